from django.apps import AppConfig


class DispenseConfig(AppConfig):
    name = "apps.dispense"
    label = "dispense"

    def ready(self) -> None:
        # Importing checks registers them; importing tasks declares the actors the services send to by name.
        from apps.dispense import checks, receivers, tasks  # noqa: F401

        receivers.connect()
