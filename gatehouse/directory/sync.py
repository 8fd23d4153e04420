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
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from gatehouse.audit import trail
from gatehouse.directory import signals, sources
from gatehouse.directory.models import LOCAL, DirectMembership, DirectoryGroup, SyncState, User
from gatehouse.directory.sources.base import DirectoryError, DirectoryUser, Snapshot
from gatehouse.directory.sources.ldap import LdapSource

logger = logging.getLogger(__name__)
BATCH = 1000
FIELDS = ("username", "sign_in_name", "email", "display_name", "department", "employee_id", "dn")
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

    @property
    def ok(self) -> bool:
        return not self.refused

    def summary(self) -> str:
        kind = "full" if self.full else "incremental"
        counted = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()) if n)
        text = f"{self.source}: {kind} sync, {counted or 'no changes'}"
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
    state = SyncState.objects.filter(source=name).first()
    since = None if full or state is None else (state.server, state.watermark)
    try:
        snapshot = source.read(since)
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


@dataclass
class _Row:
    pk: int
    active: bool
    values: dict[str, str]


class _Run:
    """One snapshot applied to the database (inside the caller's transaction)."""

    def __init__(
        self, source: LdapSource, snapshot: Snapshot, result: SyncResult, actor: str
    ) -> None:
        self.name = source.name
        self.settings = source.settings
        self.snapshot = snapshot
        self.result = result
        self.actor = actor
        self.counts = result.counts
        # What each changed user's audit event will say, by user pk.
        self.audit: dict[int, dict] = defaultdict(dict)
        self.labels: dict[int, str] = {}
        self.group_events: list[tuple[str, str, dict]] = []

    def apply(self) -> list[int]:
        """Make the changes; the pks of the users they disabled."""
        self.rows = self._rows(FIELDS)
        self._users()
        self.rows = self._rows(("username",))
        disabled = self._activity()
        groups = self._groups()
        self._memberships(groups)
        trail.record_many(self.actor, list(self._events()))
        return disabled

    def _rows(self, fields: tuple[str, ...]) -> dict[str, _Row]:
        return {
            external_id: _Row(pk, active, dict(zip(fields, values, strict=True)))
            for pk, external_id, active, *values in User.objects.filter(
                source=self.name
            ).values_list("id", "external_id", "is_active", *fields)
        }

    # --- users -----------------------------------------------------------------------------

    def _users(self) -> None:
        rows, snapshot = self.rows, self.snapshot
        others = {
            username: (pk, source, staff or superuser)
            for username, pk, source, staff, superuser in User.objects.exclude(
                source=self.name
            ).values_list("username", "id", "source", "is_staff", "is_superuser")
        }
        holders = {row.values["username"]: external_id for external_id, row in rows.items()}
        seen: set[str] = set()
        creates: list[User] = []
        # Rows to update, by the fields they change (bulk_update writes every field it names).
        updates: dict[tuple[str, ...], list[User]] = defaultdict(list)
        for user in snapshot.users:
            if user.username in seen:
                self._skip(user, f"username '{user.username}' appears twice in the directory")
                continue
            seen.add(user.username)
            row = rows.get(user.external_id)
            holder = holders.get(user.username)
            if holder is not None and holder != user.external_id:
                if holder in snapshot.listed:
                    self._skip(user, f"username '{user.username}' is another entry's")
                    continue
                # A removed account's name, given to a new entry (deleted and created again):
                # the entry is a new account, and the old one, disabled, gives the name up.
                freed = rows[holder]
                new_name = f"{user.username}~{freed.pk}"[:150]
                updates[("username",)].append(User(pk=freed.pk, username=new_name))
                self._audit(freed.pk, new_name, "before", username=user.username)
                self._audit(freed.pk, new_name, "after", username=new_name)
                freed.values["username"] = new_name
                del holders[user.username]
            if row is None:
                other = others.get(user.username)
                if other is None:
                    creates.append(self._new_user(user))
                elif other[1] == LOCAL and self.settings.adopt_local_users and not other[2]:
                    adopted = self._new_user(user, pk=other[0])
                    updates[("source", "external_id", "password", *FIELDS)].append(adopted)
                    self.counts["users adopted"] += 1
                    self.result.changes.append(f"adopt local user {user.username}")
                    self.audit[other[0]]["action"] = "adopt"
                    self._audit(other[0], user.username, "after", **_fields(user))
                else:
                    owner = "a local user" if other[1] == LOCAL else f"source '{other[1]}'"
                    self._skip(user, f"username '{user.username}' belongs to {owner}")
                continue
            changed = {k: v for k, v in _fields(user).items() if row.values[k] != v}
            if "username" in changed and (
                changed["username"] in others or changed["username"] in holders
            ):
                self._skip(user, f"not renamed to '{changed.pop('username')}': the name is taken")
            if not changed:
                continue
            updates[tuple(sorted(changed))].append(User(pk=row.pk, **changed))
            self.counts["users updated"] += 1
            label = changed.get("username", row.values["username"])
            self._audit(row.pk, label, "before", **{k: row.values[k] for k in changed})
            self._audit(row.pk, label, "after", **changed)
            described = ", ".join(f"{k} {row.values[k]!r} -> {v!r}" for k, v in changed.items())
            self.result.changes.append(f"update user {row.values['username']}: {described}")
        for fields, changed_rows in updates.items():
            User.objects.bulk_update(changed_rows, list(fields), batch_size=BATCH)
        User.objects.bulk_create(creates, batch_size=BATCH)
        created = (
            dict(
                User.objects.filter(
                    source=self.name, external_id__in=[u.external_id for u in creates]
                ).values_list("external_id", "id")
            )
            if len(creates) < BATCH
            else dict(User.objects.filter(source=self.name).values_list("external_id", "id"))
        )
        for user in creates:
            pk = created[user.external_id]
            self.counts["users created"] += 1
            self.result.changes.append(f"create user {user.username}")
            self.audit[pk]["action"] = "create"
            self._audit(pk, user.username, "after", **_fields(user), active=user.is_active)

    def _new_user(self, user: DirectoryUser, pk: int | None = None) -> User:
        return User(
            pk=pk,
            source=self.name,
            external_id=user.external_id,
            password=NO_LOCAL_PASSWORD,
            is_active=self.snapshot.listed.get(user.external_id) is False,
            date_joined=timezone.now(),
            **_fields(user),
        )

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
            if self.audit[row.pk].get("action") != "create":
                self.audit[row.pk]["action"] = what
            self.audit[row.pk]["reason"] = why
            self.labels.setdefault(row.pk, row.values["username"])
            self.result.changes.append(f"{what} user {row.values['username']}: {why}")
        for active, pks in turned.items():
            for chunk in _chunks(pks):
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
        for external_id, group in incoming.items():
            # A name another origin's group has already: "name (source)".
            name = group.name if group.name not in taken else f"{group.name} ({self.name})"[:150]
            if name in taken or name in names.values():
                self.result.skipped.append(f"group {group.dn}: the name '{name}' is taken")
                continue
            names[external_id] = name
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
        for external_id, name in names.items():
            if external_id in rows:
                continue
            rows[external_id] = DirectoryGroup.objects.create(
                group=Group.objects.create(name=name),
                source=self.name,
                external_id=external_id,
                dn=incoming[external_id].dn,
            )
            self.counts["groups created"] += 1
            self.result.changes.append(f"create group {name}")
            self.group_events.append(("directory.group.create", f"group:{name}", {}))
        return rows

    # --- memberships -----------------------------------------------------------------------

    def _memberships(self, groups: dict[str, DirectoryGroup]) -> None:
        """Direct memberships as the snapshot says them, then the effective ones from them."""
        snapshot = self.snapshot
        users = {external_id: row.pk for external_id, row in self.rows.items()}
        pk_of = {external_id: row.pk for external_id, row in groups.items()}
        current = set(
            DirectMembership.objects.filter(group__source=self.name).values_list(
                "group_id", "user_id"
            )
        )
        # What this snapshot read replaces what was known; the rest stands (incremental).
        read_users = {
            users[user.external_id]
            for user in snapshot.users
            if user.groups is not None and user.external_id in users
        }
        read_groups = {pk_of[g] for g in snapshot.members if g in pk_of}
        removed = {pk for external_id, pk in users.items() if external_id not in snapshot.listed}
        kept = () if snapshot.full else current
        wanted = {
            (g, u)
            for g, u in kept
            if u not in read_users and g not in read_groups and u not in removed
        }
        for user in snapshot.users:
            user_pk = users.get(user.external_id)
            if user.groups is not None and user_pk is not None and user_pk not in removed:
                wanted |= {(pk_of[g], user_pk) for g in user.groups if g in pk_of}
        for group_id, (member_ids, _) in snapshot.members.items():
            if group_id in pk_of:
                wanted |= {
                    (pk_of[group_id], users[u])
                    for u in member_ids
                    if u in users and users[u] not in removed
                }
        _save_pairs(DirectMembership, "group_id", "user_id", current, wanted)
        self._parents(groups)
        self._effective(groups, wanted)

    def _parents(self, groups: dict[str, DirectoryGroup]) -> None:
        """The groups each group is directly inside: its own memberOf, or else what the member
        lists read say (those not read this time stand)."""
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

    def _effective(self, groups: dict[str, DirectoryGroup], direct: set[tuple[int, int]]) -> None:
        """The users' Gatehouse groups: their direct groups and, nested, every one above."""
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

        wanted = {
            (user_pk, by_pk[above].group_id)
            for group_pk, user_pk in direct
            for above in with_ancestors(group_pk)
        }
        current: set[tuple[int, int]] = set()
        for chunk in _chunks(row.group_id for row in groups.values()):
            current |= set(
                Membership.objects.filter(group_id__in=chunk).values_list("user_id", "group_id")
            )
        added, removed = _save_pairs(Membership, "user_id", "group_id", current, wanted)
        self.counts["memberships added"] += len(added)
        self.counts["memberships removed"] += len(removed)
        name_of = {row.group_id: row.group.name for row in groups.values()}
        changed: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for which, pairs in (("added", added), ("removed", removed)):
            for user_pk, group_id in pairs:
                changed[user_pk][which].append(name_of.get(group_id, str(group_id)))
        self._remember_labels(changed)
        for user_pk, lists in changed.items():
            listed = {which: sorted(names) for which, names in lists.items()}
            self.audit[user_pk]["groups"] = listed
            if self.audit[user_pk].get("action") != "create":
                described = "; ".join(f"{w} {', '.join(n)}" for w, n in listed.items())
                self.result.changes.append(f"groups of {self.labels[user_pk]}: {described}")

    # --- audit -----------------------------------------------------------------------------

    def _audit(self, pk: int, label: str, part: str, **values) -> None:
        self.labels.setdefault(pk, label)
        self.audit[pk].setdefault(part, {}).update(values)

    def _remember_labels(self, pks: Iterable[int]) -> None:
        missing = [pk for pk in pks if pk not in self.labels]
        for chunk in _chunks(missing):
            self.labels.update(User.objects.filter(pk__in=chunk).values_list("id", "username"))

    def _events(self) -> Iterator[tuple[str, str, dict]]:
        yield from self.group_events
        self._remember_labels(self.audit)
        for pk, details in self.audit.items():
            action = details.pop("action", "update")
            target = f"user:{self.labels[pk]}"
            yield (f"directory.user.{action}", target, {"source": self.name, **details})

    def _skip(self, user: DirectoryUser, why: str) -> None:
        self.result.skipped.append(f"user {user.dn}: {why}")


def _fields(user: DirectoryUser) -> dict[str, str]:
    return {key: getattr(user, key) for key in FIELDS}


def _save_pairs(model, left: str, right: str, current: set, wanted: set) -> tuple[set, set]:
    """Make the (left, right) rows of a link table `wanted`, from `current`."""
    added, removed = wanted - current, current - wanted
    model.objects.bulk_create([model(**{left: a, right: b}) for a, b in added], batch_size=BATCH)
    by_left: dict[int, list[int]] = defaultdict(list)
    for a, b in removed:
        by_left[a].append(b)
    for a, bs in by_left.items():
        for chunk in _chunks(bs):
            model.objects.filter(**{left: a, f"{right}__in": chunk}).delete()
    return added, removed


def _chunks(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
