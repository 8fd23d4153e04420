"""Sync from a directory source: users, groups and memberships made to match the directory,
every change audited, a disabled or removed user cut off at once.

A run reads the source (gatehouse.directory.sources.ldap.reader), then changes the database in
one transaction, a thousand rows to a statement. A run that would disable or remove more than
`directory.disable_threshold` users and groups is rolled back unless forced (Entra Connect's
accidental-delete guard); a dry run is always rolled back. Either way the run reports every
change it made or would make.

A user the directory removes or disables keeps their Gatehouse account (security info,
sign-in history), disabled; everything they were signed in to ends once the run commits
(gatehouse.directory.signals). Groups follow their stable id: a rename in the directory
renames the Gatehouse group, and the policies and campaign that name it."""

from __future__ import annotations

import logging
import time
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from gatehouse import bulk
from gatehouse.audit import trail
from gatehouse.directory import signals, sources
from gatehouse.directory.models import LOCAL, DirectMembership, DirectoryGroup, SyncState, User
from gatehouse.directory.sources.base import DirectoryError, DirectoryUser, Snapshot
from gatehouse.directory.sources.ldap import LdapSource
from gatehouse.directory.sources.ldap.entries import normalise_dn
from gatehouse.directory.sources.ldap.reader import Known

logger = logging.getLogger(__name__)
BATCH = 1000
# The low 32 bits of a (user << 32 | group) pair.
LOW = 0xFFFFFFFF
FIELDS = ("username", "sign_in_name", "email", "display_name", "department", "employee_id", "dn")
# The columns of a new directory user, in the order _Run._insert_users gives them.
NEW_USER = (
    "password",
    "is_superuser",
    "is_staff",
    "is_active",
    "first_name",
    "last_name",
    "date_joined",
    "source",
    "external_id",
    *FIELDS,
)
# Directory users' passwords are checked by the directory: the local hash is unusable.
NO_LOCAL_PASSWORD = "!directory"  # noqa: S105 (an unusable hash, not a password)
Membership = User.groups.through


class SyncError(Exception):
    """A sync that could not run: an unknown source, or one that cannot be read."""


@dataclass
class SyncResult:
    source: str
    full: bool = False
    dry_run: bool = False
    applied: bool = False
    refused: str = ""
    counts: Counter = field(default_factory=Counter)
    changes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.refused

    def summary(self) -> str:
        kind = "full" if self.full else "incremental"
        counted = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()) if n)
        text = f"{self.source}: {kind} sync in {self.seconds:.1f}s, {counted or 'no changes'}"
        if self.skipped:
            text += f"; {len(self.skipped)} entries skipped"
        if self.dry_run:
            text += " (dry run: nothing changed)"
        if self.refused:
            text += f"; STOPPED, nothing changed: {self.refused}"
        return text


def run(
    name: str,
    *,
    full: bool = False,
    dry_run: bool = False,
    force: bool = False,
    actor: str = "directory-sync",
    now: datetime | None = None,
) -> SyncResult:
    source = sources.get(name)
    if source is None:
        known = ", ".join(sources.configured()) or "none configured"
        raise SyncError(f"no directory source '{name}' (sources: {known})")
    now = now or timezone.now()
    started = time.monotonic()
    state = SyncState.objects.filter(source=name).first()
    since = None if full or state is None else (state.server, state.watermark)
    try:
        snapshot = source.read(since, _known(source) if since is not None else None)
    except DirectoryError as exc:
        if not dry_run:
            _remember(name, None, ok=False, summary=f"directory unreachable: {exc}", now=now)
        raise SyncError(f"{name}: cannot read the directory: {exc}") from None
    result = SyncResult(name, full=snapshot.full, dry_run=dry_run, skipped=snapshot.skipped)
    with transaction.atomic():
        SyncState.objects.get_or_create(source=name)
        SyncState.objects.select_for_update().get(source=name)
        disabled = _Run(source, snapshot, result, actor).apply()
        threshold = settings.CONFIG["directory.disable_threshold"]
        removing = result.counts["users disabled"] + result.counts["groups removed"]
        if removing > threshold and not force:
            result.refused = (
                f"it would disable or remove {removing} users and groups, more than "
                f"directory.disable_threshold ({threshold}); check the directory, then run "
                f"`gatehouse directory sync --force {name}` if that is right"
            )
        result.seconds = time.monotonic() - started
        if dry_run or result.refused:
            transaction.set_rollback(True)
        else:
            _remember(name, snapshot, ok=True, summary=result.summary(), now=now)
            transaction.on_commit(lambda: _announce(disabled))
            result.applied = True
    if result.refused and not dry_run:
        trail.record(actor, "directory.sync.refused", f"directory:{name}", reason=result.refused)
        _remember(name, None, ok=False, summary=result.summary(), now=now)
    logger.info("directory sync: %s", result.summary())
    return result


def _known(source: LdapSource) -> Known:
    """What an incremental read needs of the users synced before: their ids, and to read the
    groups' member lists (not with memberOf) their ids by DN or by username."""
    users = User.objects.filter(source=source.name)
    if source.settings.membership == "member_of":
        return Known({external_id for (external_id,) in bulk.rows(users, "external_id")}, {}, {})
    by_dn: dict[str, str] = {}
    by_name: dict[str, str] = {}
    names = source.settings.member_attribute == "memberUid"
    for external_id, dn, username in bulk.rows(users, "external_id", "dn", "username"):
        by_dn[normalise_dn(dn)] = external_id
        if names:
            by_name[username] = external_id
    return Known(set(by_dn.values()), by_dn, by_name)


def due(now: datetime) -> list[tuple[str, bool]]:
    """The scheduled runs, (source, full): full when a source's last full run is older than
    directory.full_sync_interval, or there has been none."""
    interval = settings.CONFIG["directory.full_sync_interval"]
    last_full = dict(SyncState.objects.values_list("source", "last_full_at"))
    return [
        (name, last_full.get(name) is None or (now - last_full[name]).total_seconds() >= interval)
        for name in sources.configured()
    ]


def _remember(
    name: str, snapshot: Snapshot | None, *, ok: bool, summary: str, now: datetime
) -> None:
    values: dict = {"last_run_at": now, "last_ok": ok, "last_summary": summary}
    if snapshot is not None:
        values.update(server=snapshot.server, watermark=snapshot.watermark)
        if snapshot.full:
            values["last_full_at"] = now
    SyncState.objects.update_or_create(source=name, defaults=values)


def _announce(disabled: list[int]) -> None:
    signals.directory_changed.send(sender=User)
    if disabled:
        signals.users_disabled.send(sender=User, user_ids=disabled)


class _Row(NamedTuple):
    pk: int
    active: bool
    username: str


class _Run:
    """One snapshot applied to the database (inside the caller's transaction). Written for a
    hundred thousand users: rows go in without a model object each, and audit events are
    made as they are written."""

    def __init__(
        self, source: LdapSource, snapshot: Snapshot, result: SyncResult, actor: str
    ) -> None:
        self.name = source.name
        self.settings = source.settings
        self.snapshot = snapshot
        self.result = result
        self.actor = actor
        self.counts = result.counts
        # What each changed user's audit event will say, by user pk; new users apart.
        self.audit: dict[int, dict] = defaultdict(dict)
        self.created: list[tuple[int, DirectoryUser]] = []
        self.group_changes: tuple[array, array] = (array("Q"), array("Q"))
        self.group_names: dict[int, str] = {}
        self.labels: dict[int, str] = {}
        self.group_events: list[tuple[str, str, dict]] = []

    def apply(self) -> list[int]:
        """Make the changes; the pks of the users they disabled."""
        self.rows = self._rows()
        if self._users():
            self.rows = self._rows()
        disabled = self._activity()
        groups = self._groups()
        self._memberships(groups)
        trail.record_many(self.actor, self._events(), plain=True)
        return disabled

    def _rows(self) -> dict[str, _Row]:
        users = User.objects.filter(source=self.name)
        return {
            external_id: _Row(pk, bool(active), username)
            for external_id, pk, active, username in bulk.rows(
                users, "external_id", "id", "is_active", "username"
            )
        }

    def _stored(self) -> dict[str, tuple[str, ...]]:
        """The stored FIELDS of the users this snapshot read, by external_id."""
        query = User.objects.filter(source=self.name)
        if self.snapshot.full:
            chosen = [query]
        else:
            ids = [user.external_id for user in self.snapshot.users]
            chosen = [query.filter(external_id__in=chunk) for chunk in bulk.chunks(ids)]
        return {
            external_id: tuple(values)
            for rows in chosen
            for external_id, *values in bulk.rows(rows, "external_id", *FIELDS)
        }

    # --- users -----------------------------------------------------------------------------

    def _users(self) -> bool:
        """Create, update and rename users; whether any row was added or taken over."""
        rows, snapshot = self.rows, self.snapshot
        stored = self._stored()
        others = {
            username: (pk, source, staff or superuser)
            for username, pk, source, staff, superuser in User.objects.exclude(
                source=self.name
            ).values_list("username", "id", "source", "is_staff", "is_superuser")
        }
        holders = {row.username: external_id for external_id, row in rows.items()}
        seen: set[str] = set()
        creates: list[DirectoryUser] = []
        # Rows to update, by the fields they change: (new values..., pk).
        updates: dict[tuple[str, ...], list[tuple]] = defaultdict(list)
        for user in snapshot.users:
            if user.username in seen:
                self._skip(user, f"username '{user.username}' appears twice in the directory")
                continue
            seen.add(user.username)
            holder = holders.get(user.username)
            if holder is not None and holder != user.external_id:
                if holder in snapshot.listed:
                    self._skip(user, f"username '{user.username}' is another entry's")
                    continue
                # A removed account's name, given to a new entry (deleted and created again):
                # the entry is a new account, and the old one, disabled, gives the name up.
                freed = rows[holder]
                new_name = f"{user.username}~{freed.pk}"[:150]
                updates[("username",)].append((new_name, freed.pk))
                self._audit(freed.pk, new_name, "before", username=user.username)
                self._audit(freed.pk, new_name, "after", username=new_name)
                del holders[user.username]
            values = stored.get(user.external_id)
            if values is None:
                other = others.get(user.username)
                if other is None:
                    creates.append(user)
                elif other[1] == LOCAL and self.settings.adopt_local_users and not other[2]:
                    adopted = (
                        self.name,
                        user.external_id,
                        NO_LOCAL_PASSWORD,
                        *_fields(user).values(),
                    )
                    updates[("source", "external_id", "password", *FIELDS)].append(
                        (*adopted, other[0])
                    )
                    self.counts["users adopted"] += 1
                    self.result.changes.append(f"adopt local user {user.username}")
                    self.audit[other[0]]["action"] = "adopt"
                    self._audit(other[0], user.username, "after", **_fields(user))
                else:
                    owner = "a local user" if other[1] == LOCAL else f"source '{other[1]}'"
                    self._skip(user, f"username '{user.username}' belongs to {owner}")
                continue
            before = dict(zip(FIELDS, values, strict=True))
            changed = {k: v for k, v in _fields(user).items() if before[k] != v}
            if "username" in changed and (
                changed["username"] in others or changed["username"] in holders
            ):
                self._skip(user, f"not renamed to '{changed.pop('username')}': the name is taken")
            if not changed:
                continue
            pk = rows[user.external_id].pk
            names = tuple(sorted(changed))
            updates[names].append((*(changed[name] for name in names), pk))
            self.counts["users updated"] += 1
            label = changed.get("username", before["username"])
            self._audit(pk, label, "before", **{k: before[k] for k in changed})
            self._audit(pk, label, "after", **changed)
            described = ", ".join(f"{k} {before[k]!r} -> {v!r}" for k, v in changed.items())
            self.result.changes.append(f"update user {before['username']}: {described}")
        for fields, changed_rows in updates.items():
            bulk.update(User, fields, changed_rows)
        self._insert_users(creates)
        return bool(creates or self.counts["users adopted"])

    def _insert_users(self, creates: list[DirectoryUser]) -> None:
        listed = self.snapshot.listed
        joined = User._meta.get_field("date_joined").get_db_prep_save(timezone.now(), connection)
        creates.sort(key=lambda user: user.username)
        bulk.insert(
            User,
            NEW_USER,
            (
                (
                    NO_LOCAL_PASSWORD,
                    False,
                    False,
                    listed.get(user.external_id) is False,
                    "",
                    "",
                    joined,
                    self.name,
                    user.external_id,
                    *(getattr(user, key) for key in FIELDS),
                )
                for user in creates
            ),
        )
        if not creates:
            return
        query = User.objects.filter(source=self.name)
        if len(creates) < BATCH:
            query = query.filter(external_id__in=[user.external_id for user in creates])
        pks = dict(query.values_list("external_id", "id"))
        for user in creates:
            self.created.append((pks[user.external_id], user))
            self.result.changes.append(f"create user {user.username}")
        self.counts["users created"] += len(creates)

    def _activity(self) -> list[int]:
        """Enable and disable as the directory says; a user no longer listed is disabled."""
        listed = self.snapshot.listed
        turned: dict[bool, list[int]] = {True: [], False: []}
        for external_id, row in self.rows.items():
            state = listed.get(external_id)
            active = state is False
            if active == row.active:
                continue
            turned[active].append(row.pk)
            what = "enable" if active else "disable"
            self.counts[f"users {what}d"] += 1
            why = (
                "not in the directory (removed, or out of scope)"
                if state is None
                else f"{what}d in the directory"
            )
            self.audit[row.pk]["action"] = what
            self.audit[row.pk]["reason"] = why
            self.labels.setdefault(row.pk, row.username)
            self.result.changes.append(f"{what} user {row.username}: {why}")
        for active, pks in turned.items():
            for chunk in bulk.chunks(pks):
                User.objects.filter(pk__in=chunk).update(is_active=active)
        return turned[False]

    # --- groups ----------------------------------------------------------------------------

    def _groups(self) -> dict[str, DirectoryGroup]:
        """Create, rename, move and remove this source's groups; what they are now, by id."""
        rows = {
            row.external_id: row
            for row in DirectoryGroup.objects.filter(source=self.name).select_related("group")
        }
        incoming = {group.external_id: group for group in self.snapshot.groups}
        mine = [row.group_id for row in rows.values()]
        taken = set(Group.objects.exclude(pk__in=mine).values_list("name", flat=True))
        names: dict[str, str] = {}
        given: set[str] = set()
        for external_id, group in incoming.items():
            # A name another origin's group has already: "name (source)".
            name = group.name if group.name not in taken else f"{group.name} ({self.name})"[:150]
            if name in taken or name in given:
                self.result.skipped.append(f"group {group.dn}: the name '{name}' is taken")
                continue
            names[external_id] = name
            given.add(name)
        renamed = []
        for external_id, row in rows.items():
            if external_id not in names:
                continue
            if names[external_id] != row.group.name:
                renamed.append((row, row.group.name))
            if incoming[external_id].dn != row.dn:
                row.dn = incoming[external_id].dn
                row.save(update_fields=["dn"])
        # In two steps, so that names swapped between groups never collide on the way.
        for row, _ in renamed:
            Group.objects.filter(pk=row.group_id).update(name=f"~{row.group_id}")
        for row, old in renamed:
            new = names[row.external_id]
            Group.objects.filter(pk=row.group_id).update(name=new)
            row.group.name = new
            self.counts["groups renamed"] += 1
            self.result.changes.append(f"rename group {old} -> {new}")
            self.group_events.append(("directory.group.rename", f"group:{new}", {"before": old}))
            transaction.on_commit(
                lambda old=old, new=new: signals.group_renamed.send(
                    sender=Group, old=old, new=new, actor=self.actor
                )
            )
        for external_id in [key for key in rows if key not in incoming]:
            row = rows.pop(external_id)
            self.counts["groups removed"] += 1
            self.result.changes.append(f"remove group {row.group.name}: not in the directory")
            self.group_events.append(("directory.group.delete", f"group:{row.group.name}", {}))
            row.group.delete()
        fresh = {
            external_id: name for external_id, name in names.items() if external_id not in rows
        }
        Group.objects.bulk_create([Group(name=name) for name in fresh.values()], batch_size=BATCH)
        created: dict[str, int] = {}
        for chunk in bulk.chunks(fresh.values()):
            created.update(Group.objects.filter(name__in=chunk).values_list("name", "id"))
        DirectoryGroup.objects.bulk_create(
            [
                DirectoryGroup(
                    group_id=created[name],
                    source=self.name,
                    external_id=external_id,
                    dn=incoming[external_id].dn,
                )
                for external_id, name in fresh.items()
            ],
            batch_size=BATCH,
        )
        for name in fresh.values():
            self.counts["groups created"] += 1
            self.result.changes.append(f"create group {name}")
            self.group_events.append(("directory.group.create", f"group:{name}", {}))
        if fresh:
            rows = {
                row.external_id: row
                for row in DirectoryGroup.objects.filter(source=self.name).select_related("group")
            }
        return rows

    # --- memberships -----------------------------------------------------------------------

    def _memberships(self, groups: dict[str, DirectoryGroup]) -> None:
        """Direct memberships as the snapshot says them, then the effective ones. A full run
        replaces them all; an incremental one only those of the users and groups it read.
        Pairs are held as one int each, user << 32 | group (a hundred thousand users are in
        hundreds of thousands of groups)."""
        snapshot = self.snapshot
        users = {external_id: row.pk for external_id, row in self.rows.items()}
        pk_of = {external_id: row.pk for external_id, row in groups.items()}
        read_users = {
            users[user.external_id]
            for user in snapshot.users
            if user.groups is not None and user.external_id in users
        }
        read_groups = {pk_of[g] for g in snapshot.members if g in pk_of}
        removed = {users[external_id] for external_id in users.keys() - snapshot.listed.keys()}
        direct = DirectMembership.objects.all()
        mine = set(pk_of.values())
        if snapshot.full:
            rows = bulk.rows(direct.filter(group__source=self.name), "user_id", "group_id")
            current = {user << 32 | group for user, group in rows}
            kept: set[int] = set()
        else:
            current = _pairs(direct, "user_id", read_users | removed, mine)
            current |= _pairs(direct, "group_id", read_groups, mine)
            # What this snapshot read replaces what was known; the rest stands.
            kept = {
                pair
                for pair in current
                if (member := pair >> 32) not in read_users
                and member not in removed
                and pair & LOW not in read_groups
            }
        wanted = set(kept)
        for user in snapshot.users:
            user_pk = users.get(user.external_id)
            if user.groups is not None and user_pk is not None and user_pk not in removed:
                wanted.update(user_pk << 32 | pk_of[g] for g in user.groups if g in pk_of)
        for group_id, (member_ids, _) in snapshot.members.items():
            if group_id in pk_of:
                wanted.update(
                    users[u] << 32 | pk_of[group_id]
                    for u in member_ids
                    if u in users and users[u] not in removed
                )
        _save_pairs(DirectMembership, current, wanted)
        nesting_changed = self._parents(groups)
        affected = None
        if not snapshot.full and not (nesting_changed and self.settings.nested_groups):
            affected = {pair >> 32 for pair in current | wanted} | removed
        del current, wanted, kept
        self._effective(groups, affected)

    def _parents(self, groups: dict[str, DirectoryGroup]) -> bool:
        """The groups each group is directly inside: its own memberOf, or else what the member
        lists read say (those not read this time stand). Whether any changed."""
        snapshot = self.snapshot
        parents = {external_id: set(row.parents) for external_id, row in groups.items()}
        for group in snapshot.groups:
            if group.parents is not None and group.external_id in parents:
                parents[group.external_id] = set(group.parents)
        listed_children = {g: c for g, (_, c) in snapshot.members.items() if c is not None}
        if listed_children:
            inside: dict[str, set[str]] = defaultdict(set)
            for group_id, children in listed_children.items():
                for child in children:
                    inside[child].add(group_id)
            for external_id, above in parents.items():
                parents[external_id] = (above - listed_children.keys()) | inside[external_id]
        changed = []
        for external_id, row in groups.items():
            new = sorted(parents[external_id] & groups.keys())
            if new != sorted(row.parents):
                row.parents = new
                changed.append(row)
        DirectoryGroup.objects.bulk_update(changed, ["parents"], batch_size=BATCH)
        return bool(changed)

    def _effective(self, groups: dict[str, DirectoryGroup], affected: set[int] | None) -> None:
        """The users' Gatehouse groups: their direct groups and, nested, every one above. For
        every user of the source, or only the `affected` ones."""
        by_pk = {row.pk: row for row in groups.values()}
        closure: dict[int, set[int]] = {}

        def with_ancestors(group_pk: int) -> set[int]:
            if group_pk not in closure:
                closure[group_pk] = {group_pk}  # a cycle in the directory stops here
                found = {group_pk}
                if self.settings.nested_groups:
                    for parent in by_pk[group_pk].parents:
                        if parent in groups:
                            found |= with_ancestors(groups[parent].pk)
                closure[group_pk] = found
            return closure[group_pk]

        direct = DirectMembership.objects.all()
        mine = {row.pk for row in groups.values()}
        gatehouse_groups = {row.group_id for row in groups.values()}
        if affected is None:
            rows = bulk.rows(direct.filter(group__source=self.name), "user_id", "group_id")
            pairs = iter([user << 32 | group for user, group in rows])
            del rows
            current = {
                user << 32 | group
                for user, group in bulk.rows(Membership.objects.all(), "user_id", "group_id")
                if group in gatehouse_groups
            }
        else:
            pairs = iter(_pairs(direct, "user_id", affected, mine))
            current = _pairs(Membership.objects.all(), "user_id", affected, gatehouse_groups)
        wanted = {
            pair >> 32 << 32 | by_pk[above].group_id
            for pair in pairs
            for above in with_ancestors(pair & LOW)
        }
        added, removed = _save_pairs(Membership, current, wanted)
        del current, wanted
        self.counts["memberships added"] += len(added)
        self.counts["memberships removed"] += len(removed)
        # Sorted, 8 bytes a pair: found again by user with a binary search (_joined).
        self.group_changes = (array("Q", sorted(added)), array("Q", sorted(removed)))
        changed_users = {pair >> 32 for pair in added} | {pair >> 32 for pair in removed}
        del added, removed
        self.group_names = {row.group_id: row.group.name for row in groups.values()}
        new = {pk for pk, _ in self.created}
        shown = [pk for pk in changed_users if pk not in new]
        self._remember_labels(shown)
        for user_pk in shown:
            described = "; ".join(
                f"{which} {', '.join(names)}" for which, names in self._joined(user_pk).items()
            )
            self.result.changes.append(f"groups of {self.labels[user_pk]}: {described}")

    # --- audit -----------------------------------------------------------------------------

    def _audit(self, pk: int, label: str, part: str, **values) -> None:
        self.labels.setdefault(pk, label)
        self.audit[pk].setdefault(part, {}).update(values)

    def _remember_labels(self, pks: Iterable[int]) -> None:
        missing = [pk for pk in pks if pk not in self.labels]
        for chunk in bulk.chunks(missing):
            self.labels.update(User.objects.filter(pk__in=chunk).values_list("id", "username"))

    def _joined(self, pk: int) -> dict[str, list[str]]:
        """The groups a user was added to and removed from, by name."""
        joined = {}
        for which, pairs in zip(("added", "removed"), self.group_changes, strict=True):
            start = bisect_left(pairs, pk << 32)
            end = bisect_left(pairs, (pk + 1) << 32)
            if end > start:
                joined[which] = sorted(
                    self.group_names.get(g, str(g)) for g in (p & LOW for p in pairs[start:end])
                )
        return joined

    def _events(self) -> Iterator[tuple[str, str, dict]]:
        """The audit events, made as they are written: one per group change and one per
        changed user (what changed, and the groups they joined or left)."""
        yield from self.group_events
        for pk, user in self.created:
            active = self.snapshot.listed.get(user.external_id) is False
            details = {"source": self.name, "after": {**_fields(user), "active": active}}
            if joined := self._joined(pk):
                details["groups"] = joined
            yield ("directory.user.create", f"user:{user.username}", details)
        new = {pk for pk, _ in self.created}
        changed = {p >> 32 for pairs in self.group_changes for p in pairs}
        others = [pk for pk in sorted(changed) if pk not in new and pk not in self.audit]
        self._remember_labels([*self.audit, *others])
        for pk in [*self.audit, *others]:
            details = dict(self.audit.get(pk, {}))
            action = details.pop("action", "update")
            if joined := self._joined(pk):
                details["groups"] = joined
            target = f"user:{self.labels[pk]}"
            yield (f"directory.user.{action}", target, {"source": self.name, **details})

    def _skip(self, user: DirectoryUser, why: str) -> None:
        self.result.skipped.append(f"user {user.dn}: {why}")


def _fields(user: DirectoryUser) -> dict[str, str]:
    return {key: getattr(user, key) for key in FIELDS}


def _pairs(query, field: str, values: set[int], groups: set[int]) -> set[int]:
    """The (user, group) pairs of `query`'s rows whose `field` is one of `values`, for these
    groups only (filtered here: the database answers from `field`'s index alone)."""
    found: set[int] = set()
    for chunk in bulk.chunks(values):
        rows = bulk.rows(query.filter(**{f"{field}__in": chunk}), "user_id", "group_id")
        found.update(user << 32 | group for user, group in rows if group in groups)
    return found


def _save_pairs(model, current: set[int], wanted: set[int]) -> tuple[set[int], set[int]]:
    """Make a (user_id, group_id) link table's rows `wanted`, from `current`."""
    added, removed = wanted - current, current - wanted
    # In index order: the database then appends to its indexes rather than rewriting them.
    bulk.insert(model, ("user_id", "group_id"), ((p >> 32, p & LOW) for p in sorted(added)))
    bulk.delete_pairs(model, "user_id", "group_id", ((p >> 32, p & LOW) for p in removed))
    return added, removed
