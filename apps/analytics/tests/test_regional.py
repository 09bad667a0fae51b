"""Regional counters driven by the real services' domain signals, counted in the background."""

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.accounts.tests.factories import UserFactory
from apps.analytics import regions
from apps.analytics import services as analytics_services
from apps.analytics.models import RegionalCounter
from apps.posts import services as posts
from apps.posts.tests.factories import photo
from apps.social import services as social

pytestmark = pytest.mark.django_db
PARIS, NEW_YORK, SYDNEY = (48.8566, 2.3522), (40.7128, -74.006), (-33.8688, 151.2093)


def counts(period="day") -> dict[tuple[str, str], tuple[int, int]]:
    rows = RegionalCounter.objects.filter(period=period)
    return {(r.region, r.metric): (r.sent, r.received) for r in rows}


def located(point) -> object:
    user = UserFactory()
    return accounts.user_location_set(user=user, latitude=point[0], longitude=point[1])


def test_continents_come_from_the_country_code():
    assert regions.continent("FR") == "EU"
    assert regions.continent("us") == "NA"
    assert regions.continent("AU") == "OC"
    assert regions.continent("") == regions.continent(None) == regions.continent("XX") == "unknown"
    assert set(regions.regions()) >= {"AF", "AN", "AS", "EU", "NA", "OC", "SA", "unknown", "world"}


def test_a_signup_counts_world_wide_and_its_first_location_in_its_continent(
    analytics, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user, _ = accounts.user_signup(email="a@example.com", password="Very-Long-Pass-91", name="A",
                                       device_id="d")
    analytics.process()
    assert counts() == {("world", "new_users"): (1, 0)}

    with django_capture_on_commit_callbacks(execute=True):
        accounts.user_location_set(user=user, latitude=PARIS[0], longitude=PARIS[1])
        accounts.user_location_set(user=user, latitude=NEW_YORK[0], longitude=NEW_YORK[1])  # not a new user again
    analytics.process()
    assert counts() == {("world", "new_users"): (1, 0), ("EU", "new_users"): (1, 0)}
    assert counts("year") == counts()
    assert RegionalCounter.objects.get(period="year", region="EU").start == timezone.now().date().replace(
        month=1, day=1
    )


def test_follows_likes_and_comments_count_sent_by_the_actors_region_and_received_by_the_receivers(
    analytics, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        paris, new_york, nowhere = located(PARIS), located(NEW_YORK), UserFactory()
    analytics.process()
    RegionalCounter.objects.all().delete()  # the two first locations

    with django_capture_on_commit_callbacks(execute=True):
        social.follow_create(follower=paris, followee_id=new_york.pk)
        social.follow_create(follower=nowhere, followee_id=paris.pk)
        social.follow_delete(follower=paris, followee_id=new_york.pk)
        post = posts.post_create(author=new_york, photo=photo(), latitude=SYDNEY[0], longitude=SYDNEY[1])
        posts.like_create(post_id=post.pk, user=paris)
        posts.comment_create(post_id=post.pk, author=nowhere, text="nice")
    analytics.process()

    assert counts() == {
        ("EU", "follows"): (1, 1), ("NA", "follows"): (0, 1), ("unknown", "follows"): (1, 0),
        ("world", "follows"): (2, 2),
        ("EU", "unfollows"): (1, 0), ("NA", "unfollows"): (0, 1), ("world", "unfollows"): (1, 1),
        ("OC", "new_posts"): (1, 0), ("world", "new_posts"): (1, 0),  # the post's own place, not its author's
        ("EU", "likes"): (1, 0), ("NA", "likes"): (0, 1), ("world", "likes"): (1, 1),
        ("unknown", "comments"): (1, 0), ("NA", "comments"): (0, 1), ("world", "comments"): (1, 1),
    }


def test_a_post_without_a_location_counts_as_unknown(analytics, django_capture_on_commit_callbacks):
    author = located(PARIS)
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_create(author=author, photo=photo())
    analytics.process()
    assert counts()[("unknown", "new_posts")] == (1, 0)


def test_a_rolled_back_follow_is_not_counted(analytics, django_capture_on_commit_callbacks):
    a, b = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=False):  # the transaction never commits
        social.follow_create(follower=a, followee_id=b.pk)
    analytics.process()
    assert counts() == {}


def test_events_are_not_counted_with_analytics_off(analytics, settings, django_capture_on_commit_callbacks):
    settings.ANALYTICS_ENABLED = False
    a, b = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        social.follow_create(follower=a, followee_id=b.pk)
    assert analytics.process() == 0


def test_a_batch_of_events_reads_the_users_countries_in_one_query(
    analytics, django_capture_on_commit_callbacks, django_assert_num_queries
):
    users = [located(PARIS) for _ in range(6)]
    with django_capture_on_commit_callbacks(execute=True):
        for a, b in zip(users, users[1:], strict=False):
            social.follow_create(follower=a, followee_id=b.pk)
    from apps.analytics.buffer import buffer

    buffer.flush()
    (batch_id, records), = analytics.sent
    analytics.sent.clear()
    from apps.analytics import services

    # exists check, countries, two savepoints (the test's transaction makes the outer one a savepoint too),
    # the mark, two releases, one regional upsert for all of them; none per event
    with django_assert_num_queries(8):
        services.batch_record(batch_id=batch_id, records=records)


def test_a_first_facebook_login_counts_as_a_new_user(analytics, django_capture_on_commit_callbacks):
    from apps.accounts import facebook

    with django_capture_on_commit_callbacks(execute=True):
        facebook._user_create_from_facebook(uid="123", details={"email": "fb@example.com", "fullname": "F B"})
    analytics.process()
    assert counts() == {("world", "new_users"): (1, 0)}


def test_deleting_a_user_deletes_their_logs_and_keeps_the_counters(analytics, django_capture_on_commit_callbacks):
    import uuid

    from apps.analytics.models import EndpointCounter, ErrorLog, RequestLog

    gone, kept = UserFactory(), UserFactory()
    now = timezone.now().timestamp()
    records = [["r", now, "feed", "GET", status, 2.0, user.pk, str(uuid.uuid4()), "", "x" if status >= 400 else "", ""]
               for user in (gone, kept) for status in (200, 404)]
    analytics_services.batch_record(batch_id="d", records=records)

    with django_capture_on_commit_callbacks(execute=True):
        summary = accounts.user_delete(user=gone)
    assert summary.get("analytics logs") == 3  # two request logs and one error log
    assert set(RequestLog.objects.values_list("user_id", flat=True)) == {kept.pk}
    assert set(ErrorLog.objects.values_list("user_id", flat=True)) == {kept.pk}
    assert EndpointCounter.objects.get(period="day").requests == 4
