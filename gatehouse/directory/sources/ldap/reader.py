"""Reading a source for a sync: paged searches (Simple Paged Results, RFC 2696), Active
Directory's ranged attribute values, and the watermark an incremental run starts from —
uSNChanged with the domain controller's invocationID (a different or restored DC means a
full run), or modifyTimestamp for OpenLDAP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import ldap
from ldap.controls import SimplePagedResultsControl
from ldap.filter import escape_filter_chars

from gatehouse.config import ACTIVE_DIRECTORY, LdapSettings
from gatehouse.directory.sources.base import DirectoryGroupEntry, DirectoryUser, Snapshot
from gatehouse.directory.sources.ldap.entries import Entry, Mapper, lowered, normalise_dn

# An OpenLDAP run's watermark is the newest modifyTimestamp it saw, less the run's own length
# and this much: an entry changed while the run read others is read again next time.
TIMESTAMP_OVERLAP = timedelta(seconds=5)
GENERALIZED_TIME = "%Y%m%d%H%M%SZ"


def paged(
    connection: ldap.ldapobject.LDAPObject,
    base: str,
    search_filter: str,
    attributes: list[str],
    page_size: int,
) -> Iterator[tuple[str, Entry]]:
    """Every entry under `base` matching the filter, a page at a time; referrals skipped."""
    control = SimplePagedResultsControl(True, size=page_size, cookie="")
    while True:
        message = connection.search_ext(
            base, ldap.SCOPE_SUBTREE, search_filter, attributes, serverctrls=[control]
        )
        _, data, _, controls = connection.result3(message)
        for dn, attributes_found in data:
            if dn is not None and isinstance(attributes_found, dict):
                yield dn, lowered(attributes_found)
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


class Reader:
    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self.mapper = Mapper(settings)
        self.ad = settings.kind == ACTIVE_DIRECTORY
        self.change_attribute = "uSNChanged" if self.ad else "modifyTimestamp"

    def _search(
        self, connection, base: str, search_filter: str, attributes: list[str]
    ) -> Iterator[tuple[str, Entry]]:
        return paged(connection, base, search_filter, attributes, self.settings.page_size)

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
        self, connection, since: tuple[str, str] | None, now: datetime | None = None
    ) -> Snapshot:
        """Everything (`since` None, or a different domain controller) or what changed."""
        started = time.monotonic()
        now = now or datetime.now(UTC)
        settings, mapper = self.settings, self.mapper
        server, position = self.position(connection)
        full = since is None or not since[1] or (self.ad and since[0] != server)
        previous = "" if full or since is None else since[1]
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

        disabled_ids = self._disabled_by_filter(connection)
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
            user = mapper.user(dn, entry, now, group_ids)
            if not user.external_id or not user.username:
                skipped.append(f"user {dn}: no {mapper.map['id']} or no valid username")
                continue
            if user.external_id in disabled_ids and not user.disabled:
                user = _disabled(user)
            users.append(user)

        if full:
            listed = {user.external_id: user.disabled for user in users}
            by_dn = {normalise_dn(user.dn): user.external_id for user in users}
            by_name = {user.username: user.external_id for user in users}
        else:
            listed, by_dn, by_name = self._listing(connection, now, disabled_ids)

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

        elapsed = time.monotonic() - started
        watermark = position if self.ad else newest.watermark(previous, elapsed)
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

    def _disabled_by_filter(self, connection) -> set[str]:
        if not self.settings.disabled_filter:
            return set()
        search_filter = f"(&{self.settings.user_filter}{self.settings.disabled_filter})"
        return {
            self.mapper.external_id(entry)
            for _, entry in self._search(
                connection, self.settings.user_base, search_filter, [self.mapper.id_attribute]
            )
        }

    def _listing(
        self, connection, now: datetime, disabled_ids: set[str]
    ) -> tuple[dict[str, bool], dict[str, str], dict[str, str]]:
        """Every user in scope: id -> disabled, and the DN and username maps to members."""
        mapper = self.mapper
        listed: dict[str, bool] = {}
        by_dn: dict[str, str] = {}
        by_name: dict[str, str] = {}
        for dn, entry in self._search(
            connection,
            self.settings.user_base,
            self.settings.user_filter,
            mapper.listing_attributes,
        ):
            external_id = mapper.external_id(entry)
            if not external_id:
                continue
            listed[external_id] = mapper.disabled(entry, now) or external_id in disabled_ids
            if not mapper.member_of:
                by_dn[normalise_dn(dn)] = external_id
                by_name[mapper.username(entry)] = external_id
        return listed, by_dn, by_name

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


def _disabled(user: DirectoryUser) -> DirectoryUser:
    return replace(user, disabled=True)


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

    def watermark(self, previous: str, seconds: float) -> str:
        if not self.stamp:
            return previous
        try:
            seen = datetime.strptime(self.stamp[:14] + "Z", GENERALIZED_TIME)
        except ValueError:
            return previous
        back = seen - timedelta(seconds=seconds) - TIMESTAMP_OVERLAP
        return max(previous, back.strftime(GENERALIZED_TIME))
