"""The user directory: staff accounts and their groups."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in. Groups are Django's `auth.Group` (name only)."""

    display_name = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "directory_user"

    @property
    def label(self) -> str:
        return self.display_name or self.username

    def group_names(self) -> frozenset[str]:
        names = self.__dict__.get("_group_names")
        if names is None:
            # .all() rather than a values query, so that a prefetch (sessions do one) is used.
            names = frozenset(group.name for group in self.groups.all())
            if "groups" in getattr(self, "_prefetched_objects_cache", {}):
                # Prefetched groups are a snapshot already; answering from it again is free.
                self.__dict__["_group_names"] = names
        return names
