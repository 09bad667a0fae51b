from django.apps import AppConfig


class DispenseConfig(AppConfig):
    name = "apps.dispense"
    label = "dispense"
