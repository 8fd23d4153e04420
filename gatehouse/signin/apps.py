from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "gatehouse.signin"
    label = "signin"
