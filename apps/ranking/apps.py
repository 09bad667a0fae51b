from django.apps import AppConfig


class RankingConfig(AppConfig):
    name = "apps.ranking"
    label = "ranking"

    def ready(self) -> None:
        # Importing the actors registers them and their cron entries in every process: the embedded
        # scheduler (apps/dispense/embedded.py) imports only dispense's tasks, `manage.py crontab` all.
        from apps.ranking import receivers, tasks  # noqa: F401

        receivers.connect()
