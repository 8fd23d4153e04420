"""Directory sources: where users, groups and the password check come from. "local" is
Gatehouse's own store; each [[directory.ldap]] table in gatehouse.toml adds an Active
Directory or OpenLDAP source (gatehouse.directory.sources.ldap)."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from gatehouse.directory.sources.ldap import LdapSource


@cache
def configured() -> dict[str, LdapSource]:
    """The directory sources in the configuration, by name, in the order given."""
    return {source.name: LdapSource(source) for source in settings.CONFIG["directory.ldap"]}


def get(name: str) -> LdapSource | None:
    return configured().get(name)
