import factory

from apps.accounts.tests.factories import UserFactory
from apps.social.models import Follow


class FollowFactory(factory.django.DjangoModelFactory):
    """A graph row only: the users' counters are left alone (the services keep them)."""

    class Meta:
        model = Follow

    follower = factory.SubFactory(UserFactory)
    followee = factory.SubFactory(UserFactory)
