"""What a directory source answers: the verdict on a password, and the users and groups it
holds, as plain values. The sign-in flow sees verdicts, never LDAP."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DirectoryError(Exception):
    """A source could not answer (unreachable, or it refused the search); the message says
    why, for an operator."""


class Verdict(StrEnum):
    """A source's answer to "is this the password of this account?". The value is the
    sign-in log's reason code (docs/signin-log.md)."""

    OK = "ok"
    BAD_PASSWORD = "bad_password"  # noqa: S105 (reason codes, not passwords)
    UNKNOWN_USER = "unknown_user"
    # The directory refuses the account whatever the password (Active Directory 775, OpenLDAP
    # ppolicy accountLocked): told like a wrong password, since an unknown name never gets it.
    LOCKED = "directory_locked"
    # The password was right, but the directory refuses the sign-in:
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105
    MUST_CHANGE_PASSWORD = "password_must_change"  # noqa: S105
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_EXPIRED = "account_expired"
    LOGON_HOURS = "logon_hours"
    WORKSTATION = "workstation_restricted"
    UNAVAILABLE = "directory_unavailable"

    @property
    def password_was_right(self) -> bool:
        return self in _RIGHT_PASSWORD


_RIGHT_PASSWORD = frozenset(
    {
        Verdict.OK,
        Verdict.PASSWORD_EXPIRED,
        Verdict.MUST_CHANGE_PASSWORD,
        Verdict.ACCOUNT_DISABLED,
        Verdict.ACCOUNT_EXPIRED,
        Verdict.LOGON_HOURS,
        Verdict.WORKSTATION,
    }
)


@dataclass(frozen=True)
class Checked:
    """A verdict, and what the directory said (for the server's log, never the person)."""

    verdict: Verdict
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user as a source holds it, already mapped to Gatehouse's fields."""

    external_id: str
    dn: str
    username: str
    sign_in_name: str = ""
    email: str = ""
    display_name: str = ""
    department: str = ""
    employee_id: str = ""
    disabled: bool = False
    # external_ids of the groups the user is directly in; None when this read did not say.
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class DirectoryGroupEntry:
    """A group as a source holds it. `parents`: external_ids of the groups directly
    containing it; `members`: the DNs (or usernames) it lists, when the read asked for them."""

    external_id: str
    dn: str
    name: str
    parents: tuple[str, ...] | None = None
    members: tuple[str, ...] | None = field(default=None, repr=False)


@dataclass
class Snapshot:
    """What one sync read from a source.

    Full: `users` holds every user. Incremental: only those changed since the watermark;
    `listed` still names every user in scope (and whether the directory disabled them), so
    removals, moves out of scope and expiries are seen every time. `groups` always holds every
    group. Memberships come from the users (`DirectoryUser.groups`, memberOf) or from the
    groups whose member lists were read (`members`: group id -> (user ids, child group ids;
    None when the groups' own `parents` say it))."""

    full: bool
    server: str
    watermark: str
    users: list[DirectoryUser]
    groups: list[DirectoryGroupEntry]
    listed: dict[str, bool]
    members: dict[str, tuple[frozenset[str], frozenset[str] | None]]
    skipped: list[str] = field(default_factory=list)
