from django.apps import AppConfig


class MethodsConfig(AppConfig):
    name = "gatehouse.methods"
    label = "methods"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from gatehouse.methods import kinds
        from gatehouse.methods.models import AuthMethod

        post_save.connect(kinds.on_change, sender=AuthMethod, dispatch_uid="method-kinds")
        post_delete.connect(kinds.on_change, sender=AuthMethod, dispatch_uid="method-kinds")
