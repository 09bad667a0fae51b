"""Offline geography: reverse geocoding (reverse_geocode) and the geo grid (H3).

The grid is Uber's H3 at resolution 5, whose hexagons have edges of about 9.9 km:
the "about 10 km cells" of the original. H3 was chosen over geohash because its
cells have (nearly) equal area everywhere and every cell has exactly six neighbours
(``grid_disk``), so "nearby" does not break at geohash prefix boundaries or shrink
towards the poles.
"""

from dataclasses import dataclass
from functools import lru_cache

import h3
import reverse_geocode

GRID_RESOLUTION = 5


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    city: str
    country_code: str
    grid_cell: str


def grid_cell(*, latitude: float, longitude: float) -> str:
    """The H3 cell id of a point."""
    return h3.latlng_to_cell(latitude, longitude, GRID_RESOLUTION)


def nearby_cells(*, cell: str, rings: int = 1) -> list[str]:
    """The cell and its neighbours up to ``rings`` steps away."""
    return list(h3.grid_disk(cell, rings))


@lru_cache(maxsize=4096)
def _nearest_city(latitude: float, longitude: float) -> tuple[str, str]:
    found = reverse_geocode.get((latitude, longitude))
    return found.get("city", "") or "", found.get("country_code", "") or ""


def locate(*, latitude: float, longitude: float) -> Place:
    """City, country code and grid cell of a point, computed offline."""
    latitude, longitude = round(latitude, 6), round(longitude, 6)
    city, country = _nearest_city(latitude, longitude)
    return Place(latitude, longitude, city, country, grid_cell(latitude=latitude, longitude=longitude))
