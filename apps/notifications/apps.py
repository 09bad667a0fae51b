from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Importing tasks declares the actors the services send to by name, and their cron entries.
        from apps.notifications import receivers, tasks  # noqa: F401

        receivers.connect()
