from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "gatehouse.access"
    label = "access"

    def ready(self) -> None:
        from gatehouse import generations
        from gatehouse.access import models, policies
        from gatehouse.access.snapshot import GENERATION
        from gatehouse.directory import signals

        generations.bump_on_change(
            GENERATION,
            models.NamedLocation,
            models.ManagedDevice,
            models.AccessPolicy,
            models.ProtectedApp,
        )
        signals.group_renamed.connect(policies.follow_group_rename, dispatch_uid="policies")
