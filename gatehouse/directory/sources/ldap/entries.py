"""LDAP entries as Gatehouse users and groups: the attribute map, stable ids (objectGUID,
entryUUID), and whether the directory has disabled an account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from gatehouse.config import ACTIVE_DIRECTORY, LdapSettings
from gatehouse.directory.sources.base import DirectoryGroupEntry, DirectoryUser

# An entry's attributes, names in lower case (the server may spell them either way).
Entry = dict[str, list[bytes]]

ACCOUNTDISABLE = 0x2
# accountExpires: 100-ns intervals since 1601-01-01; 0 and 2^63-1 mean "never".
NEVER_EXPIRES = (0, 0x7FFFFFFFFFFFFFFF)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
# OpenLDAP ppolicy's pwdAccountLockedTime for an account an administrator locked (rather than
# one locked for a while after wrong passwords).
ADMINISTRATIVE_LOCK = "000001010000Z"
_BINARY_IDS = {"objectguid", "ms-ds-consistencyguid"}
USERNAME_MAX = 150


def filetime(moment: datetime) -> int:
    return int((moment - _FILETIME_EPOCH).total_seconds() * 10_000_000)


def lowered(attributes: dict[str, list[bytes]]) -> Entry:
    return {name.lower(): values for name, values in attributes.items()}


def normalise_dn(dn: str) -> str:
    """DNs as keys: the same server writes one entry's DN the same way but for case."""
    return dn.lower()


class Mapper:
    """Reads the entries of one source with its attribute map."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self.kind = settings.kind
        self.map = settings.attributes
        self.id_attribute = self.map["id"]
        self.binary_id = self.id_attribute.lower() in _BINARY_IDS
        self.member_of = settings.membership == "member_of"

    # --- what to ask for ---------------------------------------------------------------------

    @property
    def state_attributes(self) -> list[str]:
        """What says whether the directory disabled an account."""
        if self.kind == ACTIVE_DIRECTORY:
            return ["userAccountControl", "accountExpires"]
        return ["pwdAccountLockedTime"]

    @property
    def user_attributes(self) -> list[str]:
        wanted = [
            self.map[key]
            for key in ("username", "sign_in_name", "email", "display_name", "department")
        ]
        wanted += [self.map["employee_id"], *self.state_attributes, self.id_attribute]
        if self.member_of:
            wanted.append("memberOf")
        return [name for name in dict.fromkeys(wanted) if name]

    @property
    def group_attributes(self) -> list[str]:
        wanted = [self.id_attribute, self.map["group_name"]]
        if self.member_of:
            wanted.append("memberOf")
        return wanted

    # --- reading -----------------------------------------------------------------------------

    def external_id(self, entry: Entry) -> str:
        raw = _first_bytes(entry, self.id_attribute)
        return "" if raw is None else self.id_from(raw)

    def id_from(self, raw: bytes) -> str:
        """The id attribute's value as text: objectGUID's bytes as a GUID."""
        if self.binary_id and len(raw) == 16:
            return str(uuid.UUID(bytes_le=raw))
        return raw.decode("utf-8", "replace").strip().lower()

    def username(self, entry: Entry) -> str:
        name = _text(entry, self.map["username"]).strip().lower()
        return name if len(name) <= USERNAME_MAX and name.isprintable() else ""

    def disabled_filter(self, now: datetime) -> str:
        """The users the directory has disabled now, as a filter (what `disabled` says of one
        entry), or-ed with the configured disabled_filter."""
        if self.kind == ACTIVE_DIRECTORY:
            bit = f"(userAccountControl:1.2.840.113556.1.4.803:={ACCOUNTDISABLE})"
            expired = f"(&(accountExpires>=1)(accountExpires<={filetime(now)}))"
            ours = bit + expired
        else:
            ours = f"(pwdAccountLockedTime={ADMINISTRATIVE_LOCK})"
        return f"(|{ours}{self.settings.disabled_filter})"

    def disabled(self, entry: Entry, now: datetime) -> bool:
        if self.kind == ACTIVE_DIRECTORY:
            flags = _integer(entry, "userAccountControl")
            expires = _integer(entry, "accountExpires")
            expired = expires not in NEVER_EXPIRES and expires <= filetime(now)
            return bool(flags & ACCOUNTDISABLE) or expired
        return _text(entry, "pwdAccountLockedTime") == ADMINISTRATIVE_LOCK

    def user(
        self,
        dn: str,
        entry: Entry,
        now: datetime,
        group_ids: dict[str, str] | None = None,
    ) -> DirectoryUser:
        """A user entry; `group_ids` (group DN -> external_id) turns memberOf into groups."""
        return DirectoryUser(
            external_id=self.external_id(entry),
            dn=dn,
            username=self.username(entry),
            sign_in_name=self._field(entry, "sign_in_name", 254).lower(),
            email=self._field(entry, "email", 254),
            display_name=self._field(entry, "display_name", 200),
            department=self._field(entry, "department", 200),
            employee_id=self._field(entry, "employee_id", 64),
            disabled=self.disabled(entry, now),
            groups=self._member_of(entry, group_ids),
        )

    def group(self, dn: str, entry: Entry, group_ids: dict[str, str] | None) -> DirectoryGroupEntry:
        name = _text(entry, self.map["group_name"]).strip()[:150]
        parents = self._member_of(entry, group_ids)
        return DirectoryGroupEntry(
            external_id=self.external_id(entry), dn=dn, name=name, parents=parents
        )

    def _member_of(self, entry: Entry, group_ids: dict[str, str] | None) -> tuple[str, ...] | None:
        """The ids of the source's groups an entry's memberOf names (None: not read so)."""
        if not self.member_of or group_ids is None:
            return None
        values = (normalise_dn(value) for value in _values(entry, "memberOf"))
        return tuple(sorted({group_ids[key] for key in values if key in group_ids}))

    def _field(self, entry: Entry, key: str, limit: int) -> str:
        attribute = self.map[key]
        return _text(entry, attribute).strip()[:limit] if attribute else ""


def _values(entry: Entry, attribute: str) -> list[str]:
    return [value.decode("utf-8", "replace") for value in entry.get(attribute.lower(), ())]


def _first_bytes(entry: Entry, attribute: str) -> bytes | None:
    values = entry.get(attribute.lower())
    return values[0] if values else None


def _text(entry: Entry, attribute: str) -> str:
    raw = _first_bytes(entry, attribute)
    return raw.decode("utf-8", "replace") if raw is not None else ""


def _integer(entry: Entry, attribute: str) -> int:
    try:
        return int(_text(entry, attribute) or 0)
    except ValueError:
        return 0
