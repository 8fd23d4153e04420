from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "gatehouse.enrollment"
    label = "enrollment"

    def ready(self) -> None:
        from gatehouse.authenticator import signals as authenticator_signals
        from gatehouse.directory import signals
        from gatehouse.enrollment import campaign

        signals.group_renamed.connect(campaign.follow_group_rename, dispatch_uid="campaign")
        authenticator_signals.phone_paired.connect(_phone_paired, dispatch_uid="security_info")


def _phone_paired(sender, **kwargs) -> None:
    from gatehouse.enrollment import security_info

    security_info.phone_paired(sender, **kwargs)
