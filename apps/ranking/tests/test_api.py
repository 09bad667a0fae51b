"""GET /top/users and GET /top/posts (shared/API.md, "Discovery")."""

from datetime import UTC, datetime

import h3
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts import services as account_services
from apps.common.geo import grid_cell
from apps.posts.tests.factories import LikeFactory
from apps.ranking import services
from apps.ranking.tests.factories import BERLIN, DAY, LYON, OLD, PARIS, WEEK, followers, likes, post, user
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db
USERS, POSTS = "/api/v1/top/users", "/api/v1/top/posts"
IN_DAY = datetime(2025, 11, 19, 9, tzinfo=UTC)


def at(user_, latitude: float, longitude: float, country: str = "XX") -> None:
    """Move ``user_`` (in the database and in memory) to a point with a chosen country code."""
    fields = {"latitude": latitude, "longitude": longitude, "country_code": country,
              "grid_cell": grid_cell(latitude=latitude, longitude=longitude)}
    type(user_).objects.filter(pk=user_.pk).update(**fields)
    for name, value in fields.items():
        setattr(user_, name, value)


def ranked_users(*points, period=WEEK) -> list:
    """Users at ``points`` (None: nowhere), the first with the most new followers; ranked for the week."""
    people = [user(point) for point in points]
    for place, someone in enumerate(people):
        followers(someone, len(people) - place)
    services.users_rank(period=period)
    return people


def ids(items: list[dict]) -> list[int]:
    return [int(item["id"]) for item in items]


# --- users ---------------------------------------------------------------------------------------


def test_top_users_gives_nearby_country_and_world_lists_of_full_users(auth_client):
    at(auth_client.user, *PARIS, country="FR")
    paris, lyon, berlin, nowhere = ranked_users(PARIS, LYON, BERLIN, None)
    FollowFactory(follower=auth_client.user, followee=lyon)

    response = auth_client.get(USERS, {"period": WEEK.name})

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"period", "nearby", "country", "world"} and body["period"] == "2025-W47"
    assert ids(body["nearby"]) == [paris.pk]
    assert ids(body["country"]) == [paris.pk, lyon.pk]
    assert ids(body["world"]) == [paris.pk, lyon.pk, berlin.pk, nowhere.pk]
    assert [item["is_following"] for item in body["country"]] == [False, True]
    assert set(body["world"][0]) == {
        "id", "username", "name", "bio", "picture_url", "picture_thumbnail_url", "posts_count",
        "followers_count", "following_count", "is_following", "created_at",
    }


def test_without_a_location_nearby_and_country_are_empty(auth_client):
    (paris,) = ranked_users(PARIS)

    body = auth_client.get(USERS, {"period": WEEK.name}).json()

    assert (body["nearby"], body["country"], ids(body["world"])) == ([], [], [paris.pk])


def test_nearby_merges_the_cell_and_its_ring_by_score_but_not_further(auth_client):
    at(auth_client.user, *PARIS)
    home = auth_client.user.grid_cell
    ring = sorted(h3.grid_ring(home, 1))
    far = sorted(h3.grid_ring(home, 2))[0]
    people = [user() for _ in range(4)]
    for someone, cell in zip(people, [ring[0], home, ring[3], far], strict=True):
        type(someone).objects.filter(pk=someone.pk).update(grid_cell=cell, country_code="FR")
    for place, someone in enumerate(people):
        followers(someone, 10 - place)
    services.users_rank(period=WEEK)

    body = auth_client.get(USERS, {"period": WEEK.name}).json()

    assert ids(body["nearby"]) == [people[0].pk, people[1].pk, people[2].pk]


@pytest.mark.parametrize("latitude, longitude", [(89.99, 0.0), (-89.99, 45.0), (-16.8, 179.99), (65.0, -179.99)])
def test_nearby_works_at_the_poles_and_across_the_antimeridian(auth_client, latitude, longitude):
    at(auth_client.user, latitude, longitude)
    neighbours = sorted(h3.grid_ring(auth_client.user.grid_cell, 1))
    if abs(longitude) > 179:  # take a neighbour on the other side of the antimeridian
        neighbours = [cell for cell in neighbours if h3.cell_to_latlng(cell)[1] * longitude < 0]
    (neighbour,) = ranked_users(None)
    at(neighbour, *h3.cell_to_latlng(neighbours[0]))
    services.users_rank(period=WEEK)

    body = auth_client.get(USERS, {"period": WEEK.name}).json()

    assert ids(body["nearby"]) == [neighbour.pk]


def test_lists_hold_at_most_30_best_first(auth_client, settings):
    settings.RANKING_KEEP = 40
    people = ranked_users(*[None] * 35)

    body = auth_client.get(USERS, {"period": WEEK.name}).json()

    assert ids(body["world"]) == [someone.pk for someone in people[:30]]


def test_users_deactivated_since_the_run_are_left_out(auth_client):
    first, second = ranked_users(None, None)

    account_services.user_deactivate(user=first)

    assert ids(auth_client.get(USERS, {"period": WEEK.name}).json()["world"]) == [second.pk]


def test_the_default_period_is_the_last_complete_week(auth_client, monkeypatch):
    from apps.ranking import periods

    monkeypatch.setattr(periods.timezone, "now", lambda: datetime(2025, 11, 26, 8, tzinfo=UTC))
    (ada,) = ranked_users(None)

    body = auth_client.get(USERS).json()

    assert (body["period"], ids(body["world"])) == ("2025-W47", [ada.pk])


def test_a_period_not_computed_yet_gives_empty_lists(auth_client):
    at(auth_client.user, *PARIS, country="FR")
    ranked_users(PARIS)

    body = auth_client.get(USERS, {"period": "2025-W46"}).json()

    assert body == {"period": "2025-W46", "nearby": [], "country": [], "world": []}


@pytest.mark.parametrize("period", ["2025-47", "2025-W60", "2021-W53", "last", "2025-11-19", "２０２５-W47", ""])
def test_a_malformed_week_is_400_in_the_error_shape(auth_client, period):
    response = auth_client.get(USERS, {"period": period})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["fields"]) == ["period"]


@pytest.mark.parametrize("path, period", [(USERS, "2999-W01"), (USERS, "9999-W52"), (POSTS, "2999-01-01"),
                                          (POSTS, "9999-12-31")])
def test_a_period_in_the_future_is_400(auth_client, path, period):
    response = auth_client.get(path, {"period": period})

    assert response.status_code == 400
    assert "not ended" in response.json()["error"]["fields"]["period"][0]


def test_the_running_period_is_400_too(auth_client):
    today = datetime.now(UTC).date()
    year, week, _ = today.isocalendar()

    assert auth_client.get(USERS, {"period": f"{year}-W{week:02d}"}).status_code == 400
    assert auth_client.get(POSTS, {"period": today.isoformat()}).status_code == 400


@pytest.mark.parametrize("path", [USERS, POSTS])
def test_top_lists_need_a_token(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def _queries(client, path, period) -> int:
    client.get(path, {"period": period})  # the first request of a minute also writes last_active_at
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, {"period": period}).status_code == 200
    return len(queries)


def test_top_users_runs_a_fixed_number_of_queries(auth_client):
    at(auth_client.user, *PARIS, country="FR")
    ranked_users(PARIS)
    few = _queries(auth_client, USERS, WEEK.name)
    ranked_users(*[PARIS, LYON, BERLIN, None] * 10)

    assert _queries(auth_client, USERS, WEEK.name) == few == 3  # token, entries, users


# --- posts ---------------------------------------------------------------------------------------


def ranked_posts(*points) -> list:
    """Posts at ``points`` (None: no location), the first the most liked that day; ranked for the day."""
    author = user()
    made = [post(author, at=OLD, point=point) for point in points]
    for place, photo in enumerate(made):
        likes(photo, len(made) - place, at=IN_DAY)
    services.posts_rank(period=DAY)
    return made


def test_top_posts_gives_full_posts_with_liked_by_me(auth_client):
    at(auth_client.user, *BERLIN, country="DE")
    paris, berlin, nowhere = ranked_posts(PARIS, BERLIN, None)
    LikeFactory(post=berlin, user=auth_client.user, created_at=OLD)

    response = auth_client.get(POSTS, {"period": DAY.name})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == "2025-11-19"
    assert ids(body["world"]) == [paris.pk, berlin.pk, nowhere.pk]
    assert ids(body["nearby"]) == ids(body["country"]) == [berlin.pk]
    assert body["nearby"][0]["liked_by_me"] is True and body["world"][0]["liked_by_me"] is False
    assert body["country"][0]["location"]["country_code"] == "DE"
    assert {"author", "photo", "latest_like", "latest_comment", "likes_count"} <= set(body["world"][0])


def test_deleted_posts_are_never_listed(auth_client):
    from apps.posts import services as post_services

    first, second = ranked_posts(None, None)

    post_services.post_remove(post=first)

    assert ids(auth_client.get(POSTS, {"period": DAY.name}).json()["world"]) == [second.pk]


@pytest.mark.parametrize("period", ["2025-11-31", "2025-W47", "20251119", "2025-11-19T00:00"])
def test_a_malformed_day_is_400(auth_client, period):
    response = auth_client.get(POSTS, {"period": period})

    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["period"]


def test_top_posts_runs_a_fixed_number_of_queries(auth_client):
    at(auth_client.user, *PARIS, country="FR")
    ranked_posts(PARIS)
    few = _queries(auth_client, POSTS, DAY.name)
    ranked_posts(*[PARIS, LYON, BERLIN, None] * 10)

    # token, entries, posts, their latest likes, the users marked (no comment here: no comments query)
    assert _queries(auth_client, POSTS, DAY.name) == few == 5


# --- re-running a period while the API reads it --------------------------------------------------


def test_a_re_run_is_seen_whole_or_not_at_all_at_every_step(auth_client):
    at(auth_client.user, *PARIS, country="FR")
    before = [someone.pk for someone in ranked_users(PARIS, LYON)]
    newcomers = [user(PARIS) for _ in range(3)]
    for someone in newcomers:
        followers(someone, 10)
    after = sorted(someone.pk for someone in newcomers) + before
    seen = []

    def read(step: str) -> None:
        body = auth_client.get(USERS, {"period": WEEK.name}).json()
        seen.append((step, ids(body["country"]), ids(body["world"])))

    services.users_rank(period=WEEK, progress=read)

    assert seen == [(step, before, before) for step in services.STEPS[:-1]] + [("swap", after, after)]


def test_an_entry_whose_user_or_post_went_meanwhile_is_skipped(auth_client):
    from apps.ranking.models import PostRank, Ranking, UserRank

    (ada,) = ranked_users(None)
    (photo,) = ranked_posts(None)
    for model, kind, ref in ((UserRank, Ranking.Kind.USERS, "user_id"), (PostRank, Ranking.Kind.POSTS, "post_id")):
        ranking = Ranking.objects.get(kind=kind)
        # An id whose row was deleted between the scoring and the insert (the keys have no database constraint).
        model.objects.create(ranking=ranking, generation=ranking.generation, scope_kind="world", scope="", rank=0,
                             position=0, score=99, **{ref: 10**9})

    assert ids(auth_client.get(USERS, {"period": WEEK.name}).json()["world"]) == [ada.pk]
    assert ids(auth_client.get(POSTS, {"period": DAY.name}).json()["world"]) == [photo.pk]
