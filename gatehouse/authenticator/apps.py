from django.apps import AppConfig


class AuthenticatorConfig(AppConfig):
    name = "gatehouse.authenticator"
    label = "authenticator"

    def ready(self) -> None:
        from gatehouse.authenticator.factor import PushFactor
        from gatehouse.methods import registry

        registry.register(PushFactor())
