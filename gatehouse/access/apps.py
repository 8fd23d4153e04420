from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "gatehouse.access"
    label = "access"
