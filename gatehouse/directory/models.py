"""The user directory: staff accounts and their groups, and what Gatehouse keeps about the
directory sources (Active Directory, OpenLDAP) they come from."""

from django.contrib.auth.models import AbstractUser, Group
from django.db import models

LOCAL = "local"


class User(AbstractUser):
    """A person who signs in. Groups are Django's `auth.Group` (name only).

    `source` says who checks the password: "local" (Gatehouse's own Argon2 hash) or the name
    of a directory source, which binds as `dn`. A directory user is found again by
    `external_id` (objectGUID / entryUUID) whatever is renamed or moved."""

    display_name = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=32, default=LOCAL, db_index=True)
    # None for local users.
    external_id = models.CharField(max_length=64, null=True, blank=True, default=None)
    dn = models.TextField(blank=True)
    # Another name the person may sign in with (Active Directory's userPrincipalName).
    sign_in_name = models.CharField(max_length=254, blank=True, db_index=True)
    employee_id = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "directory_user"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="one_user_per_directory_entry"
            )
        ]

    @property
    def label(self) -> str:
        return self.display_name or self.username

    @property
    def from_directory(self) -> bool:
        return self.source != LOCAL

    def group_names(self) -> frozenset[str]:
        names = self.__dict__.get("_group_names")
        if names is None:
            # .all() rather than a values query, so that a prefetch (sessions do one) is used.
            names = frozenset(group.name for group in self.groups.all())
            if "groups" in getattr(self, "_prefetched_objects_cache", {}):
                # Prefetched groups are a snapshot already; answering from it again is free.
                self.__dict__["_group_names"] = names
        return names


class DirectoryGroup(models.Model):
    """A group that comes from a directory source: the `auth.Group` it is in Gatehouse, found
    again by its stable id, and the groups it is directly inside (for nested groups)."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="directory")
    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=64)
    dn = models.TextField()
    # external_ids of the groups of the same source that directly contain this one.
    parents = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="one_group_per_directory_entry"
            )
        ]


class DirectMembership(models.Model):
    """A user directly in a directory group, as the directory says. A user's Gatehouse groups
    are these and, with nested groups, every group above them."""

    group = models.ForeignKey(DirectoryGroup, on_delete=models.CASCADE, related_name="direct")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="one_direct_membership")
        ]


class SyncState(models.Model):
    """Where the last sync of a source got to: the watermark the next incremental run starts
    from (uSNChanged with the domain controller's invocationID, or a modifyTimestamp)."""

    source = models.CharField(primary_key=True, max_length=32)
    server = models.CharField(max_length=200, blank=True)
    watermark = models.CharField(max_length=64, blank=True)
    last_full_at = models.DateTimeField(null=True)
    last_run_at = models.DateTimeField(null=True)
    last_ok = models.BooleanField(default=True)
    last_summary = models.TextField(blank=True)
