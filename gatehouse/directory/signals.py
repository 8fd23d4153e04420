"""What the directory announces, for the layers above it (which it may not import) to act on:
the sign-in layer ends a disabled user's sessions (and so their forward-auth answers), the OIDC
provider revokes their tokens, policies and the campaign follow a renamed group."""

from collections.abc import Iterable

from django.dispatch import Signal

# user_ids=list[int]: accounts a directory sync has just disabled or found removed. Sent once
# the change is committed; everything they are signed in to must end at once.
users_disabled = Signal()
# Users, groups or memberships changed in bulk (without Django's per-row signals).
directory_changed = Signal()
# old=str, new=str, actor=str: a directory group was renamed; references by name follow it.
group_renamed = Signal()


def renamed(names: Iterable[str], old: str, new: str) -> list[str]:
    """A list of group names, with a renamed group's old name replaced by its new one."""
    return sorted({new if name == old else name for name in names})
