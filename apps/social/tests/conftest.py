"""The dispense fixtures (broker, in-process worker, drain), for tests that check feeds after an admin delete."""

from apps.dispense.tests.conftest import broker, drain, worker  # noqa: F401
