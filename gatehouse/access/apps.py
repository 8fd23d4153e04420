from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "gatehouse.access"
    label = "access"

    def ready(self) -> None:
        from gatehouse import generations
        from gatehouse.access import models
        from gatehouse.access.snapshot import GENERATION

        generations.bump_on_change(
            GENERATION,
            models.NamedLocation,
            models.ManagedDevice,
            models.AccessPolicy,
            models.ProtectedApp,
        )
