from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "gatehouse.enrollment"
    label = "enrollment"

    def ready(self) -> None:
        from gatehouse.directory import signals
        from gatehouse.enrollment import campaign

        signals.group_renamed.connect(campaign.follow_group_rename, dispatch_uid="campaign")
