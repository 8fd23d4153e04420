from django.apps import AppConfig


class MethodsConfig(AppConfig):
    name = "gatehouse.methods"
    label = "methods"
