"""Administrator accounts."""

from django.db import transaction

from gatehouse.directory import passwords
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.models import User


def create_admin(username: str, email: str, password: str) -> User:
    """Create an administrator, or make an existing user one and reset their password."""
    passwords.check(password, normalise_username(username), email)
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=normalise_username(username))
        user.email = email or user.email
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(password)
        user.save()
    return user
