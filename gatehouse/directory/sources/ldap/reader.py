"""Reading a source for a sync: paged searches (Simple Paged Results, RFC 2696), Active
Directory's ranged attribute values, and the watermark an incremental run starts from —
uSNChanged with the domain controller's invocationID (a different or restored DC means a
full run), or modifyTimestamp for OpenLDAP."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import ldap
from ldap.controls import SimplePagedResultsControl
from ldap.filter import escape_filter_chars

from gatehouse.config import ACTIVE_DIRECTORY, LdapSettings
from gatehouse.directory.sources.base import DirectoryGroupEntry, DirectoryUser, Snapshot
from gatehouse.directory.sources.ldap.entries import Entry, Mapper, lowered, normalise_dn

# How far an OpenLDAP server's clock may be behind ours: an OpenLDAP run's watermark is the
# second after the newest modifyTimestamp it saw, but never later than the run's start less
# this, so an entry changed while the run read others is read again next time.
CLOCK_SKEW = timedelta(minutes=2)
GENERALIZED_TIME = "%Y%m%d%H%M%SZ"


def paged(
    connection: ldap.ldapobject.LDAPObject,
    base: str,
    search_filter: str,
    attributes: list[str],
    page_size: int,
    lower: bool = True,
) -> Iterator[tuple[str, Entry]]:
    """Every entry under `base` matching the filter, a page at a time; referrals skipped.
    Attribute names in lower case, unless `lower` is false (the server's spelling)."""
    control = SimplePagedResultsControl(True, size=page_size, cookie="")
    while True:
        message = connection.search_ext(
            base, ldap.SCOPE_SUBTREE, search_filter, attributes, serverctrls=[control]
        )
        _, data, _, controls = connection.result3(message)
        for dn, attributes_found in data:
            if dn is not None and isinstance(attributes_found, dict):
                yield dn, lowered(attributes_found) if lower else attributes_found
        cookies = [
            c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType
        ]
        if not cookies or not cookies[0]:
            return
        control.cookie = cookies[0]


def all_values(
    connection: ldap.ldapobject.LDAPObject, dn: str, entry: Entry, attribute: str
) -> list[bytes]:
    """Every value of `attribute`, following Active Directory's ranged retrieval
    (`member;range=0-1499`) for attributes with more values than one answer holds."""
    attribute = attribute.lower()
    if attribute in entry:
        return list(entry[attribute])
    values: list[bytes] = []
    while True:
        prefix = attribute + ";range="
        key = next((name for name in entry if name.startswith(prefix)), None)
        if key is None:
            return values
        values += entry[key]
        low_high = key[len(prefix) :].split("-")
        if low_high[-1] == "*":
            return values
        wanted = f"{attribute};range={int(low_high[-1]) + 1}-*"
        found = connection.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", [wanted])
        entry = lowered(found[0][1]) if found else {}


@dataclass(frozen=True)
class Known:
    """What the last runs found of a source's users: their ids, and for reading member lists
    their ids by DN and by username."""

    ids: set[str]
    by_dn: dict[str, str]
    by_name: dict[str, str]


class Reader:
    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self.mapper = Mapper(settings)
        self.ad = settings.kind == ACTIVE_DIRECTORY
        self.change_attribute = "uSNChanged" if self.ad else "modifyTimestamp"

    def _search(
        self, connection, base: str, search_filter: str, attributes: list[str], lower=True
    ) -> Iterator[tuple[str, Entry]]:
        size = self.settings.page_size
        return paged(connection, base, search_filter, attributes, size, lower)

    def position(self, connection) -> tuple[str, str]:
        """(server, watermark) now: Active Directory's (invocationID, highestCommittedUSN);
        OpenLDAP has neither, its watermark comes from what a run read."""
        if not self.ad:
            return "", ""
        root = connection.search_s(
            "", ldap.SCOPE_BASE, "(objectClass=*)", ["highestCommittedUSN", "dsServiceName"]
        )
        attributes = lowered(root[0][1])
        usn = attributes["highestcommittedusn"][0].decode()
        service = attributes["dsservicename"][0].decode()
        settings = connection.search_s(
            service, ldap.SCOPE_BASE, "(objectClass=*)", ["invocationId"]
        )
        invocation = lowered(settings[0][1])["invocationid"][0]
        return str(uuid.UUID(bytes_le=invocation)), usn

    def read(
        self,
        connection,
        since: tuple[str, str] | None,
        known: Known | None = None,
        lister=None,
        now: datetime | None = None,
    ) -> Snapshot:
        """Everything (`since` None, or a different domain controller), or what changed. An
        incremental read is told what the last runs found (`known`), and lists every user in
        scope on a second connection (`lister`) while it reads the rest on the first."""
        now = now or datetime.now(UTC)
        settings, mapper = self.settings, self.mapper
        server, position = self.position(connection)
        full = since is None or not since[1] or (self.ad and since[0] != server) or not known
        previous = "" if full or since is None else since[1]
        listing = None
        if not full:
            assert known is not None
            listing = _Background(self._ids, lister or connection, known.ids)
        newest = _Newest(self.ad)
        skipped: list[str] = []

        group_rows = list(
            self._search(
                connection,
                settings.group_base,
                settings.group_filter,
                [*mapper.group_attributes, self.change_attribute]
                + ([settings.member_attribute] if full and not mapper.member_of else []),
            )
        )
        group_ids = {normalise_dn(dn): mapper.external_id(entry) for dn, entry in group_rows}
        groups: list[DirectoryGroupEntry] = []
        changed_groups: list[tuple[str, Entry, DirectoryGroupEntry]] = []
        for dn, entry in group_rows:
            group = mapper.group(dn, entry, group_ids)
            if not group.external_id or not group.name:
                skipped.append(f"group {dn}: no {mapper.map['id']} or name")
                continue
            groups.append(group)
            stamp = newest.see(entry, self.change_attribute)
            if full or newest.after(stamp, previous):
                changed_groups.append((dn, entry, group))

        disabled = self._disabled_now(connection, now)
        user_filter = settings.user_filter
        if not full:
            user_filter = f"(&{user_filter}{newest.since_filter(previous)})"
        users: list[DirectoryUser] = []
        for dn, entry in self._search(
            connection,
            settings.user_base,
            user_filter,
            [*mapper.user_attributes, self.change_attribute],
        ):
            newest.see(entry, self.change_attribute)
            self._take(dn, entry, now, group_ids, disabled, users, skipped)

        # Member lists name users by DN (or username): maps to their ids, only when needed.
        lists = not mapper.member_of
        by_dn = {normalise_dn(u.dn): u.external_id for u in users} if lists else {}
        by_name = {u.username: u.external_id for u in users} if lists else {}
        if full:
            listed = {user.external_id: user.disabled for user in users}
        else:
            assert known is not None and listing is not None
            by_dn, by_name = {**known.by_dn, **by_dn}, {**known.by_name, **by_name}
            ids, unknown = listing.result()
            read = {user.external_id for user in users}
            # Come into scope without changing (added to the group a filter names, say).
            for external_id, dn in unknown.items():
                if external_id not in read:
                    for found_dn, entry in self._entry(connection, dn):
                        self._take(found_dn, entry, now, group_ids, disabled, users, skipped)
            listed = {user.external_id: user.disabled for user in users}
            for external_id in ids:
                listed.setdefault(external_id, external_id in disabled)

        members: dict[str, tuple[frozenset[str], frozenset[str] | None]] = {}
        for dn, entry, group in changed_groups:
            if mapper.member_of:
                if not full:
                    members[group.external_id] = (self._members_of(connection, dn), None)
                continue
            if full:
                values = all_values(connection, dn, entry, settings.member_attribute)
            else:
                values = self._member_values(connection, dn)
            members[group.external_id] = self._resolve(values, by_dn, by_name, group_ids)

        watermark = position if self.ad else newest.watermark(previous, now)
        return Snapshot(
            full=full,
            server=server,
            watermark=watermark,
            users=users,
            groups=groups,
            listed=listed,
            members=members,
            skipped=skipped,
        )

    def _take(
        self,
        dn: str,
        entry: Entry,
        now: datetime,
        group_ids: dict[str, str],
        disabled: set[str],
        users: list[DirectoryUser],
        skipped: list[str],
    ) -> None:
        user = self.mapper.user(dn, entry, now, group_ids)
        if not user.external_id or not user.username:
            skipped.append(f"user {dn}: no {self.mapper.map['id']} or no valid username")
            return
        if user.external_id in disabled and not user.disabled:
            user = replace(user, disabled=True)
        users.append(user)

    def _disabled_now(self, connection, now: datetime) -> set[str]:
        """The ids of every user in scope the directory has disabled, or disabled_filter
        matches: a search the server answers from its indexes, however many users."""
        search_filter = f"(&{self.settings.user_filter}{self.mapper.disabled_filter(now)})"
        return {
            self.mapper.external_id(entry)
            for _, entry in self._search(
                connection, self.settings.user_base, search_filter, [self.mapper.id_attribute]
            )
        }

    def _ids(self, connection, known: set[str]) -> tuple[set[str], dict[str, str]]:
        """Every user in scope, by id alone (the cheapest answer a server gives), and the DN of
        each one the last runs did not know."""
        ids: set[str] = set()
        unknown: dict[str, str] = {}
        for dn, attributes in self._search(
            connection,
            self.settings.user_base,
            self.settings.user_filter,
            [self.mapper.id_attribute],
            lower=False,
        ):
            values = next(iter(attributes.values()), None)  # the one attribute asked for
            if not values:
                continue
            external_id = self.mapper.id_from(values[0])
            ids.add(external_id)
            if external_id not in known:
                unknown[external_id] = dn
        return ids, unknown

    def _entry(self, connection, dn: str) -> list[tuple[str, Entry]]:
        """One user entry, read whole."""
        attributes = self.mapper.user_attributes
        found = connection.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", attributes)
        return [(found_dn, lowered(entry)) for found_dn, entry in found]

    def _members_of(self, connection, group_dn: str) -> frozenset[str]:
        """The users in scope directly in a group, by their memberOf."""
        search_filter = f"(&{self.settings.user_filter}(memberOf={escape_filter_chars(group_dn)}))"
        return frozenset(
            self.mapper.external_id(entry)
            for _, entry in self._search(
                connection, self.settings.user_base, search_filter, [self.mapper.id_attribute]
            )
        )

    def _member_values(self, connection, group_dn: str) -> list[bytes]:
        attribute = self.settings.member_attribute
        found = connection.search_s(group_dn, ldap.SCOPE_BASE, "(objectClass=*)", [attribute])
        if not found or found[0][0] is None:
            return []
        return all_values(connection, group_dn, lowered(found[0][1]), attribute)

    def _resolve(
        self,
        values: Iterable[bytes],
        by_dn: dict[str, str],
        by_name: dict[str, str],
        group_ids: dict[str, str],
    ) -> tuple[frozenset[str], frozenset[str]]:
        """A member list (DNs, or usernames for memberUid) as (user ids, child group ids);
        members outside the source's scope are left out."""
        users, children = set(), set()
        by_username = self.settings.member_attribute == "memberUid"
        for raw in values:
            text = raw.decode("utf-8", "replace")
            if by_username:
                found = by_name.get(text.strip().lower())
                if found:
                    users.add(found)
                continue
            key = normalise_dn(text)
            if key in by_dn:
                users.add(by_dn[key])
            elif key in group_ids:
                children.add(group_ids[key])
        return frozenset(users), frozenset(children)


class _Background:
    """`work(*args)` on a thread of its own (python-ldap lets other threads run while it
    waits on the server); `result()` waits for it and returns it, or raises what it raised."""

    def __init__(self, work, *args) -> None:
        self._outcome: list = []
        self._thread = threading.Thread(target=self._run, args=(work, args), daemon=True)
        self._thread.start()

    def _run(self, work, args) -> None:
        try:
            self._outcome.append((True, work(*args)))
        except BaseException as exc:  # handed to the caller by result()
            self._outcome.append((False, exc))

    def result(self):
        self._thread.join()
        done, value = self._outcome[0]
        if not done:
            raise value
        return value


class _Newest:
    """The newest change stamp seen (uSNChanged or modifyTimestamp) and filters by it."""

    def __init__(self, ad: bool) -> None:
        self.ad = ad
        self.stamp = ""

    def see(self, entry: Entry, attribute: str) -> str:
        values = entry.get(attribute.lower())
        stamp = values[0].decode() if values else ""
        if stamp and (not self.stamp or self.after(stamp, self.stamp)):
            self.stamp = stamp
        return stamp

    def after(self, stamp: str, previous: str) -> bool:
        """Whether a stamp is at or past an incremental run's starting point."""
        if not stamp:
            return True
        if self.ad:
            return int(stamp) > int(previous or 0)
        return stamp >= previous

    def since_filter(self, previous: str) -> str:
        if self.ad:
            return f"(uSNChanged>={int(previous) + 1})"
        return f"(modifyTimestamp>={escape_filter_chars(previous)})"

    def watermark(self, previous: str, started: datetime) -> str:
        """Where the next incremental run starts (OpenLDAP)."""
        try:
            seen = datetime.strptime(self.stamp[:14] + "Z", GENERALIZED_TIME).replace(tzinfo=UTC)
        except ValueError:
            return previous
        start = min(seen + timedelta(seconds=1), started - CLOCK_SKEW)
        return max(previous, start.strftime(GENERALIZED_TIME))
