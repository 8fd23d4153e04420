from django.apps import AppConfig


class AuthenticatorConfig(AppConfig):
    name = "gatehouse.authenticator"
    label = "authenticator"
