from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "gatehouse.signin"
    label = "signin"

    def ready(self) -> None:
        from gatehouse import generations
        from gatehouse.directory import signals as directory_signals
        from gatehouse.directory.models import User
        from gatehouse.signin import push_answers
        from gatehouse.signin.sessions import GENERATION

        # A disabled user, or one whose groups changed, must not be served from cached sessions.
        generations.bump_on_change(GENERATION, User, User.groups.through)
        # ... nor when a directory sync changed them in bulk; and a user it disabled is signed
        # out everywhere at once (their OIDC tokens go with their sessions).
        directory_signals.directory_changed.connect(
            lambda **kwargs: generations.bump(GENERATION), weak=False, dispatch_uid="sessions"
        )
        directory_signals.users_disabled.connect(
            _sign_out_disabled, weak=False, dispatch_uid="sessions"
        )
        # The authenticator, a layer below, asks the flow and tells it through an interface.
        push_answers.connect()


def _sign_out_disabled(sender, user_ids: list[int], **kwargs) -> None:
    from gatehouse.signin.sessions import end_all

    for user_id in user_ids:
        end_all("user_disabled", user=user_id)
