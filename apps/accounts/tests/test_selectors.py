import pytest
from django.db.models import Value

from apps.accounts import selectors
from apps.accounts.tests.factories import UserFactory
from apps.common.exceptions import NotFound

pytestmark = pytest.mark.django_db


def names(queryset) -> list[str]:
    return sorted(user.username for user in queryset)


def test_user_get_returns_an_active_user(user, other_user):
    assert selectors.user_get(user_id=str(other_user.pk), viewer=user) == other_user


@pytest.mark.parametrize("user_id", ["abc", "", None, "1.5", "99999"])
def test_user_get_of_unknown_or_malformed_id_is_not_found(user_id, user):
    with pytest.raises(NotFound) as error:
        selectors.user_get(user_id=user_id, viewer=user)

    assert error.value.code == "user_not_found"


def test_user_get_hides_inactive_users(user):
    gone = UserFactory(is_active=False)

    with pytest.raises(NotFound):
        selectors.user_get(user_id=gone.pk, viewer=user)


def test_search_by_exact_email_in_any_case():
    ada = UserFactory(email="ada@example.com", username="ada")
    UserFactory(email="ada@example.community", username="ada2")

    assert list(selectors.user_search(query=" ADA@example.com ", viewer=None)) == [ada]


def test_search_by_email_prefix_finds_nothing():
    UserFactory(email="ada@example.com")

    assert not selectors.user_search(query="ada@example", viewer=None).exists()


def test_search_by_username_prefix_in_any_case():
    UserFactory(username="photo_fan", name="Zed")
    UserFactory(username="photon", name="Yan")
    UserFactory(username="aphoto", name="Xia")

    assert names(selectors.user_search(query="PHOTO", viewer=None)) == ["photo_fan", "photon"]


def test_search_by_name_prefix_in_any_case():
    UserFactory(username="u1", name="Émile Zola")
    UserFactory(username="u2", name="Emily Brontë")
    UserFactory(username="u3", name="Jane Emilson")

    assert names(selectors.user_search(query="emil", viewer=None)) == ["u2"]
    assert names(selectors.user_search(query="jane em", viewer=None)) == ["u3"]


def test_search_treats_like_wildcards_literally():
    UserFactory(username="a_b", name="Q")
    UserFactory(username="axb", name="R")

    assert names(selectors.user_search(query="a_", viewer=None)) == ["a_b"]
    assert not selectors.user_search(query="%", viewer=None).exists()


def test_search_hides_inactive_users():
    UserFactory(username="ghost", is_active=False)

    assert not selectors.user_search(query="ghost", viewer=None).exists()


def test_registered_annotator_decorates_every_user_queryset(user, monkeypatch):
    monkeypatch.setattr(selectors, "_annotators", [])

    def annotate(queryset, viewer):
        return queryset.annotate(viewer_marker=Value(viewer.pk if viewer else 0))

    selectors.register_user_annotator(annotate)
    selectors.register_user_annotator(annotate)  # registering twice is harmless

    assert selectors._annotators == [annotate]
    assert selectors.user_get(user_id=user.pk, viewer=user).viewer_marker == user.pk
    assert selectors.user_search(query=user.username, viewer=None).get().viewer_marker == 0

