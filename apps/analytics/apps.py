from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"

    def ready(self) -> None:
        # Importing the actors declares them (the buffer sends by name) and registers the daily prune.
        from apps.analytics import receivers, tasks  # noqa: F401

        receivers.connect()
