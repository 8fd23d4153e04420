from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "gatehouse.signin"
    label = "signin"

    def ready(self) -> None:
        from gatehouse import generations
        from gatehouse.directory.models import User
        from gatehouse.signin.sessions import GENERATION

        # A disabled user, or one whose groups changed, must not be served from cached sessions.
        generations.bump_on_change(GENERATION, User, User.groups.through)
