from django.apps import AppConfig


class OidcConfig(AppConfig):
    name = "gatehouse.providers.oidc"
    label = "oidc"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from gatehouse.access.models import ProtectedApp
        from gatehouse.directory import signals as directory_signals
        from gatehouse.providers.oidc import clients, grants
        from gatehouse.signin import signals

        # The protected app is the one source of truth; its OAuth client follows it.
        post_save.connect(clients.on_app_saved, sender=ProtectedApp, dispatch_uid="oidc-client")
        post_delete.connect(clients.on_app_deleted, sender=ProtectedApp, dispatch_uid="oidc-client")
        signals.session_ended.connect(grants.on_session_ended, dispatch_uid="oidc-grants")
        signals.session_replaced.connect(grants.on_session_replaced, dispatch_uid="oidc-grants")
        directory_signals.users_disabled.connect(grants.revoke_for_users, dispatch_uid="oidc")
