"""Cities, photos and the run statistics."""

import io
import random

from PIL import Image

from apps.bots import cities
from apps.bots.photos import ORIENTATION_TAG, make_photo
from apps.bots.stats import Stats, percentile


def test_the_largest_cities_are_spread_over_the_continents():
    chosen = cities.largest_cities(12)

    assert len(chosen) == 12 and len({city.name for city in chosen}) == 12
    assert len({city.continent for city in chosen[:6]}) == 6  # one per inhabited continent first
    assert chosen[0].population == max(city.population for city in cities._all_cities())
    assert all(city.population >= cities.MIN_POPULATION for city in chosen)


def test_cities_are_loaded_once():
    assert cities._all_cities() is cities._all_cities()


def test_a_point_near_a_city_is_a_few_km_away():
    city = cities.largest_cities(1)[0]
    rng = random.Random(3)

    points = [city.near(rng) for _ in range(200)]

    assert all(abs(lat - city.latitude) < 1 and abs(lon - city.longitude) < 1 for lat, lon in points)
    assert len(set(points)) == 200


def test_photos_vary_and_some_carry_an_exif_orientation():
    rng = random.Random(5)
    photos = [make_photo(rng, exif_share=0.5) for _ in range(40)]

    assert {photo.content_type for photo in photos} == {"image/jpeg", "image/png"}
    assert len({(photo.width, photo.height) for photo in photos}) > 30
    turned = [photo for photo in photos if photo.orientation != 1]
    assert turned and all(photo.content_type == "image/jpeg" for photo in turned)
    for photo in photos:
        image = Image.open(io.BytesIO(photo.content))
        assert image.size == (photo.width, photo.height)
        assert image.getexif().get(ORIENTATION_TAG, 1) == photo.orientation
        wide = photo.height > photo.width if photo.orientation in (6, 8) else photo.width > photo.height
        assert photo.shown_landscape == wide


def test_percentiles_are_nearest_rank():
    values = [float(n) for n in range(1, 101)]

    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([], 50) is None and percentile([7.0], 99) == 7.0


def test_the_summary_has_every_section():
    stats = Stats()
    stats.request("GET /feed", 200, 0.010)
    stats.request("GET /feed", 304, 0.030)
    stats.create("posts", 2)
    stats.delivered("hybrid", 0.2)
    stats.delivered("fanout", None)

    summary = stats.summary(run_id="x")

    assert summary["endpoints"]["GET /feed"] == {
        "requests": 2, "statuses": {"200": 1, "304": 1}, "p50_ms": 10.0, "p95_ms": 30.0, "p99_ms": 30.0
    }
    assert summary["created"] == {"posts": 2} and summary["run_id"] == "x" and summary["ok"]
    assert summary["feed_delivery_lag"]["hybrid"]["samples"] == 1
    assert summary["feed_delivery_lag"]["fanout"]["missed"] == 1


def test_the_world_keeps_its_indexes_in_step():
    from apps.bots.client import BotUser
    from apps.bots.world import PostRecord, World

    world = World()
    ada, bob = (BotUser(f"{n}@x", "pw", n, n, city="Paris", id=n) for n in ("ada", "bob"))
    for user in (ada, bob):
        world.user_added(user)
    assert world.followed(ada, "bob") and not world.followed(ada, "bob")
    world.posted(PostRecord("p1", bob, day=1))
    world.liked(ada, "p1", on=True)
    world.commented("c1", ada, "p1")
    world.commented("c2", ada, "p1")
    world.comment_deleted("c1")

    assert world.follower_ids("bob") == ["ada"] and world.liked_by("ada") == ["p1"]
    assert world.comments_by("ada") == ["c2"] and world.comments_of_post["p1"] == 1
    assert world.counts() == {"users": 2, "celebrities": 0, "posts": 1, "follows": 1, "likes": 1, "comments": 1}

    world.post_deleted("p1")
    world.liked(bob, "p1", on=True)  # a like acknowledged after the deletion is not expected to stay
    world.unfollowed(ada, "bob")

    assert world.liked_by("ada") == [] and world.liked_by("bob") == [] and world.comments_by("ada") == []
    assert world.follower_ids("bob") == [] and world.live_posts_of("bob") == []
    assert world.counts() == {"users": 2, "celebrities": 0, "posts": 0, "follows": 0, "likes": 0, "comments": 0}


def test_a_bots_own_error_fails_the_run_instead_of_vanishing_in_a_thread():
    from apps.bots.client import Client
    from apps.bots.simulation import Knobs, Simulation

    simulation = Simulation(Client("http://shutter.test", stats=Stats()), Knobs(cities=1, concurrency=2))

    simulation._phase("broken", [lambda: {}["id"], lambda: None])

    assert simulation.stats.failures == {"bot_error": 1}
    assert simulation.stats.failure_examples == ["bot_error: KeyError: 'id'"]
