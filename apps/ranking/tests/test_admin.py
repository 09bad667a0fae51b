"""The rankings admin: entries per scope with rank, score and parts, filters, staff only, recompute."""

import pytest
from django.test import Client

from apps.ranking import services
from apps.ranking.models import Ranking, UserRank
from apps.ranking.tests.factories import BERLIN, DAY, IN_WEEK, LYON, OLD, PARIS, WEEK, followers, likes, post, user

pytestmark = pytest.mark.django_db
USERS = "/admin/ranking/userrank/"
POSTS = "/admin/ranking/postrank/"
RANKINGS = "/admin/ranking/ranking/"


@pytest.fixture
def ranked():
    paris, lyon, berlin = user(PARIS), user(LYON), user(BERLIN)
    for count, someone in enumerate((paris, lyon, berlin), start=1):
        followers(someone, count)
    likes(post(paris, at=OLD, point=PARIS), 2, at=IN_WEEK.replace(day=19))
    services.users_rank(period=WEEK)
    services.posts_rank(period=DAY)
    return paris, lyon, berlin


def test_user_entries_show_rank_score_and_parts_linked_to_the_user(admin_client, ranked):
    paris = ranked[0]

    response = admin_client.get(USERS)

    assert response.status_code == 200
    page = response.content.decode()
    for column in ("rank", "score", "likes", "comments", "followers", "unfollows", "posts", "new_account"):
        assert f"column-{column}" in page, column
    assert f'href="/admin/accounts/user/{paris.pk}/change/"' in page
    assert response.context["cl"].result_count == 3 + 2 + 1 + 3  # world, FR, DE, three cells


def test_filters_by_period_scope_kind_and_country(admin_client, ranked):
    def count(**query) -> int:
        return admin_client.get(USERS, query).context["cl"].result_count

    assert count(ranking__period="2025-W47") == 9
    assert count(ranking__period="2025-W46") == 0
    assert count(scope_kind="world") == 3
    assert count(country="FR") == 2 and count(country="DE") == 1
    assert "FR" in admin_client.get(USERS).content.decode()


def test_post_entries_link_to_the_post(admin_client, ranked):
    response = admin_client.get(POSTS)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    assert "/admin/posts/post/" in response.content.decode()


def test_only_the_shown_generation_is_listed(admin_client, ranked):
    ranking = Ranking.objects.get(kind=Ranking.Kind.USERS)
    UserRank.objects.create(ranking=ranking, generation=ranking.generation + 1, scope_kind="world", scope="",
                            rank=1, position=1, score=1, user=ranked[0])  # a run in progress

    assert admin_client.get(USERS).context["cl"].result_count == 9


def test_rankings_list_and_cannot_be_added_edited_or_deleted(admin_client, ranked):
    response = admin_client.get(RANKINGS)

    assert response.status_code == 200
    assert "2025-W47" in response.content.decode() and "2025-11-19" in response.content.decode()
    assert admin_client.get(f"{RANKINGS}add/").status_code == 403
    ranking = Ranking.objects.first()
    assert admin_client.post(f"{RANKINGS}{ranking.pk}/delete/").status_code == 403
    entry = UserRank.objects.first()
    page = admin_client.get(f"{USERS}{entry.pk}/change/")
    assert page.status_code == 200 and "Save" not in page.content.decode()


def test_recompute_action_runs_the_service(admin_client, ranked):
    ranking = Ranking.objects.get(kind=Ranking.Kind.USERS)
    followers(user(), 10)

    response = admin_client.post(RANKINGS, {"action": "recompute", "_selected_action": [ranking.pk]}, follow=True)

    assert response.status_code == 200
    ranking.refresh_from_db()
    assert ranking.generation == 2 and ranking.candidates == 4
    assert "4 ranked" in response.content.decode()


def test_recompute_of_a_busy_period_says_so(admin_client, ranked):
    from django.utils import timezone

    Ranking.objects.update(building_since=timezone.now())

    response = admin_client.post(RANKINGS, {"action": "recompute",
                                            "_selected_action": list(Ranking.objects.values_list("pk", flat=True))},
                                 follow=True)

    assert "Another run is computing this period" in response.content.decode()
    assert set(Ranking.objects.values_list("generation", flat=True)) == {1}


def test_non_staff_users_cannot_see_rankings(ranked):
    client = Client()
    client.force_login(ranked[0])

    for path in (USERS, POSTS, RANKINGS):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
