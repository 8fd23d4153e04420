"""Connections to one directory source's servers: TLS always (ldaps:// or StartTLS, the
certificate and name checked by default), failover down the list of URLs, and two pools kept
open between uses — one bound as the service account for searches, one for binding as the
people signing in (a connection a person has bound on is never used to search).

python-ldap objects are not shared: each use takes a connection from a pool and gives it
back. A server that stops answering costs the `timeout` once; the source is then taken for
down for a few seconds, so a burst of sign-ins does not queue behind it."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import ldap

from gatehouse.config import LdapSettings
from gatehouse.directory.sources.base import DirectoryError

# How long a source whose every server failed is answered "unavailable" without trying again.
DOWN_FOR = 5.0
IDLE_PER_POOL = 8
# LDAP result codes that say "this server cannot help now": try the next one.
UNREACHABLE = (
    ldap.SERVER_DOWN,
    ldap.TIMEOUT,
    ldap.CONNECT_ERROR,
    ldap.UNAVAILABLE,
    ldap.BUSY,
)


class Unreachable(DirectoryError):
    """No server of the source could be reached (or would talk TLS with us)."""


class Connections:
    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self._service: queue.LifoQueue[ldap.ldapobject.LDAPObject] = queue.LifoQueue(IDLE_PER_POOL)
        self._binds: queue.LifoQueue[ldap.ldapobject.LDAPObject] = queue.LifoQueue(IDLE_PER_POOL)
        self._lock = threading.Lock()
        self._failed_at: dict[str, float] = {}
        self._down_until = 0.0
        self.last_url = ""

    @contextlib.contextmanager
    def service(self) -> Iterator[ldap.ldapobject.LDAPObject]:
        """A connection bound as the service account."""
        with self._pooled(self._service, bound=True) as connection:
            yield connection

    @contextlib.contextmanager
    def for_binds(self) -> Iterator[ldap.ldapobject.LDAPObject]:
        """A connection to bind on as someone signing in."""
        with self._pooled(self._binds, bound=False) as connection:
            yield connection

    def run(self, pool: str, operation: Any) -> Any:
        """`operation(connection)` on a pooled connection; once more on a fresh one if the
        pooled one had gone stale (the server restarted, a firewall dropped it)."""
        use = self.service if pool == "service" else self.for_binds
        for attempt in (1, 2):
            try:
                with use() as connection:
                    return operation(connection)
            except UNREACHABLE:
                if attempt == 2:
                    raise
                self.clear()
        raise AssertionError("unreachable")

    def clear(self) -> None:
        for pool in (self._service, self._binds):
            while True:
                try:
                    _close(pool.get_nowait())
                except queue.Empty:
                    break

    @contextlib.contextmanager
    def _pooled(self, pool: queue.LifoQueue, bound: bool) -> Iterator[ldap.ldapobject.LDAPObject]:
        try:
            connection = pool.get_nowait()
        except queue.Empty:
            connection = self.open(bound)
        healthy = False
        try:
            yield connection
            healthy = True
        except ldap.LDAPError as exc:
            # A refused password leaves the connection fit for the next bind; anything that
            # says the connection itself is in doubt does not.
            healthy = not isinstance(exc, UNREACHABLE)
            raise
        finally:
            if healthy:
                try:
                    pool.put_nowait(connection)
                except queue.Full:
                    _close(connection)
            else:
                _close(connection)

    def open(self, bound: bool) -> ldap.ldapobject.LDAPObject:
        """A new connection to the first server that answers, recently failed ones last."""
        if time.monotonic() < self._down_until:
            raise Unreachable(f"every server of '{self.settings.name}' failed moments ago")
        urls = sorted(self.settings.urls, key=lambda url: self._failed_at.get(url, 0.0))
        reasons = []
        for url in urls:
            try:
                connection = self._connect(url, bound)
            except ldap.INVALID_CREDENTIALS:
                raise Unreachable(
                    f"{url}: the service account's password (bind_password) was refused"
                ) from None
            except ldap.LDAPError as exc:
                self._failed_at[url] = time.monotonic()
                reasons.append(f"{url}: {describe(exc)}")
                continue
            self._failed_at.pop(url, None)
            self.last_url = url
            return connection
        with self._lock:
            self._down_until = time.monotonic() + DOWN_FOR
        raise Unreachable("; ".join(reasons))

    def _connect(self, url: str, bound: bool) -> ldap.ldapobject.LDAPObject:
        settings = self.settings
        connection = ldap.initialize(url)
        connection.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        connection.set_option(ldap.OPT_REFERRALS, 0)
        connection.set_option(ldap.OPT_NETWORK_TIMEOUT, settings.timeout)
        connection.set_option(ldap.OPT_TIMEOUT, settings.timeout)
        if settings.ca_file is not None:
            connection.set_option(ldap.OPT_X_TLS_CACERTFILE, str(settings.ca_file))
        connection.set_option(
            ldap.OPT_X_TLS_REQUIRE_CERT,
            ldap.OPT_X_TLS_DEMAND if settings.verify_certificate else ldap.OPT_X_TLS_NEVER,
        )
        connection.set_option(ldap.OPT_X_TLS_PROTOCOL_MIN, ldap.OPT_X_TLS_PROTOCOL_TLS1_2)
        connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        try:
            if settings.start_tls:
                connection.start_tls_s()
            if bound:
                connection.simple_bind_s(settings.bind_dn, settings.bind_password())
            else:
                # Connect (and agree TLS) now, not in the middle of someone's sign-in.
                touch(connection)
        except BaseException:
            _close(connection)
            raise
        return connection


def touch(connection: ldap.ldapobject.LDAPObject) -> None:
    """A request every server answers (the root DSE), to see that a connection works."""
    connection.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["supportedLDAPVersion"])


def describe(error: ldap.LDAPError) -> str:
    """python-ldap's error as one line: its description and the server's diagnostic."""
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    parts = [info.get("desc") or type(error).__name__, info.get("info") or ""]
    return ": ".join(part for part in parts if part)


def _close(connection: ldap.ldapobject.LDAPObject) -> None:
    with contextlib.suppress(ldap.LDAPError):
        connection.unbind_s()
