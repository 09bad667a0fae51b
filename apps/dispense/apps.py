from django.apps import AppConfig


class DispenseConfig(AppConfig):
    name = "apps.dispense"
    label = "dispense"

    def ready(self) -> None:
        from apps.dispense import receivers

        receivers.connect()
