from django.apps import AppConfig


class DispenseConfig(AppConfig):
    name = "apps.dispense"
    label = "dispense"

    def ready(self) -> None:
        from apps.dispense import checks, receivers  # noqa: F401  importing checks registers them

        receivers.connect()
