from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "gatehouse.console"
    label = "console"
