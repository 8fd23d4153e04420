"""An Active Directory or OpenLDAP server as a directory source: the password checked by
binding as the person (never stored), users and groups read for sync, and a health probe.

python-ldap, not ldap3: it is maintained (ldap3's last release was 2021), it is OpenLDAP's
own client library underneath (the TLS, StartTLS and failover behaviour operators already know
from ldapsearch), and it decodes the password-policy and paged-results controls we need."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import ldap
from ldap.controls.ppolicy import PasswordPolicyControl
from ldap.filter import escape_filter_chars

from gatehouse.config import ACTIVE_DIRECTORY, LdapSettings
from gatehouse.directory.sources.base import (
    Checked,
    DirectoryError,
    DirectoryUser,
    Snapshot,
    Verdict,
)
from gatehouse.directory.sources.ldap import refusals
from gatehouse.directory.sources.ldap.connection import (
    UNREACHABLE,
    Connections,
    Unreachable,
    describe,
    touch,
)
from gatehouse.directory.sources.ldap.entries import Mapper, normalise_dn
from gatehouse.directory.sources.ldap.reader import Known, Reader, paged

logger = logging.getLogger(__name__)
# Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: membership through any depth of nesting.
IN_CHAIN = "1.2.840.113556.1.4.1941"


@dataclass(frozen=True)
class Sample:
    """One user as the source maps it, with the names of their groups (`directory test`)."""

    user: DirectoryUser
    groups: list[str]


class LdapSource:
    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.connections = Connections(settings)
        self.mapper = Mapper(settings)
        self.reader = Reader(settings)

    # --- the password --------------------------------------------------------------------

    def check_password(self, dn: str, password: str) -> Checked:
        """Bind as `dn` with `password` and say what the directory made of it."""
        if not password or not dn:
            # An empty password makes a simple bind anonymous, which "succeeds".
            return Checked(Verdict.BAD_PASSWORD, "empty password (not sent)")
        policy = PasswordPolicyControl()

        def bind(connection):
            return connection.simple_bind_s(dn, password, serverctrls=[policy])

        try:
            result = self.connections.run("binds", bind)
        except ldap.INVALID_CREDENTIALS as exc:
            return refusals.refused(exc)
        except Unreachable as exc:
            return self._unavailable(str(exc))
        except UNREACHABLE as exc:
            return self._unavailable(describe(exc))
        except ldap.LDAPError as exc:
            return self._unavailable(describe(exc))
        return refusals.accepted(result[3] if result else [])

    def check_unknown(self) -> Checked:
        """What checking a password costs, for a name no user has: one bind with a random
        password as nobody, so that the answer takes as long, and says "unavailable" as
        surely, as for somebody."""
        decoy = f"cn=gatehouse-no-such-user,{self.settings.user_base}"
        checked = self.check_password(decoy, secrets.token_urlsafe(16))
        if checked.verdict == Verdict.UNAVAILABLE:
            return checked
        return Checked(Verdict.UNKNOWN_USER)

    def _unavailable(self, detail: str) -> Checked:
        logger.warning("directory source %s unavailable: %s", self.name, detail)
        return Checked(Verdict.UNAVAILABLE, detail)

    # --- health ----------------------------------------------------------------------------

    def probe(self) -> str | None:
        """None when the service account can reach and bind to a server; else why not."""
        try:
            self.connections.run("service", touch)
        except Unreachable as exc:
            return str(exc)
        except ldap.LDAPError as exc:
            return describe(exc)
        return None

    # --- sync ------------------------------------------------------------------------------

    def read(self, since: tuple[str, str] | None, known: Known | None = None) -> Snapshot:
        """Read for a sync on connections of its own (a long read holds no pooled one): two
        for an incremental run, which lists every user while it reads what changed."""
        connection = self.connections.open(bound=True)
        lister = self.connections.open(bound=True) if since is not None else None
        try:
            snapshot = self.reader.read(connection, since, known, lister)
        except ldap.LDAPError as exc:
            raise DirectoryError(describe(exc)) from None
        finally:
            for opened in (connection, lister):
                if opened is not None:
                    opened.unbind_s()
        if not self.reader.ad:
            snapshot.server = self.connections.last_url
        return snapshot

    # --- `gatehouse directory test` --------------------------------------------------------

    def sample(self, name: str | None = None) -> Sample | None:
        """The user called `name` (username or sign-in name), or the first user found."""
        settings, mapper = self.settings, self.mapper
        search_filter = settings.user_filter
        if name:
            wanted = escape_filter_chars(name)
            by = [mapper.map["username"], mapper.map["sign_in_name"]]
            either = "".join(f"({attribute}={wanted})" for attribute in by if attribute)
            search_filter = f"(&{search_filter}(|{either}))"
        try:
            with self.connections.service() as connection:
                for dn, entry in paged(
                    connection, settings.user_base, search_filter, mapper.user_attributes, 1
                ):
                    user = mapper.user(dn, entry, datetime.now(UTC))
                    return Sample(user, self._group_names(connection, dn, entry))
        except ldap.LDAPError as exc:
            raise DirectoryError(describe(exc)) from None
        return None

    def _group_names(self, connection, dn: str, entry) -> list[str]:
        settings, mapper = self.settings, self.mapper
        name_attribute = mapper.map["group_name"]

        def groups(search_filter: str) -> list[tuple[str, str]]:
            return [
                (found_dn, _first(found, name_attribute))
                for found_dn, found in paged(
                    connection,
                    settings.group_base,
                    f"(&{settings.group_filter}{search_filter})",
                    [name_attribute],
                    settings.page_size,
                )
            ]

        if settings.nested_groups and settings.kind == ACTIVE_DIRECTORY:
            found = groups(f"(member:{IN_CHAIN}:={escape_filter_chars(dn)})")
            return sorted(name for _, name in found)
        attribute = settings.member_attribute
        value = (
            mapper.username(entry)
            if attribute == "memberUid" and settings.membership == "group_search"
            else dn
        )
        if settings.membership == "member_of":
            # What the users' memberOf says, read the way a sync reads it.
            wanted = {normalise_dn(v.decode()) for v in entry.get("memberof", [])}
            found = [(g, n) for g, n in groups("") if normalise_dn(g) in wanted]
        else:
            found = groups(f"({attribute}={escape_filter_chars(value)})")
        names = {normalise_dn(g): n for g, n in found}
        frontier = list(names)
        nesting = "member" if attribute == "memberUid" else attribute
        while settings.nested_groups and frontier:
            above = groups(
                "(|" + "".join(f"({nesting}={escape_filter_chars(g)})" for g in frontier[:50]) + ")"
            )
            frontier = frontier[50:]
            for group_dn, group_name in above:
                key = normalise_dn(group_dn)
                if key not in names:
                    names[key] = group_name
                    frontier.append(key)
        return sorted(names.values())


def _first(entry, attribute: str) -> str:
    values = entry.get(attribute.lower()) or [b""]
    return values[0].decode("utf-8", "replace")
