from django.apps import AppConfig


class AuthenticatorConfig(AppConfig):
    name = "gatehouse.authenticator"
    label = "authenticator"

    def ready(self) -> None:
        # The push factor: gatehouse.methods.registry finds it by its class once imported.
        from gatehouse.authenticator import factor  # noqa: F401
