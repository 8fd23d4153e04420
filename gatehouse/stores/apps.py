from django.apps import AppConfig


class StoresConfig(AppConfig):
    name = "gatehouse.stores"
    label = "stores"
