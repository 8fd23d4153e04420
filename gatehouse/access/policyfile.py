"""Policies as plain data: the one dict shape stored in the database, accepted by the admin API
and written to YAML or TOML policy files, read strictly with errors that name key and line.

A policy file is `{policies: [policy, ...]}`. Every key of a policy except `id` may be left
out; the default is used.

| key                               | value                                      | default      |
|-----------------------------------|--------------------------------------------|--------------|
| `id`                              | letters, digits, `._-` (up to 64), unique  | required     |
| `name`                            | text                                       | the id       |
| `state`                           | `on`, `off` or `report_only`               | `off`        |
| `message`                         | text shown on a block or unmet requirement | `""`         |
| `conditions.users.include`        | `all` or [usernames]                       | `[]`: no one |
| `conditions.users.include_groups` | [groups]                                   | `[]`         |
| `conditions.users.exclude`        | [usernames]                                | `[]`         |
| `conditions.users.exclude_groups` | [groups]                                   | `[]`         |
| `conditions.apps.include`         | `all` or [apps]                            | `all`        |
| `conditions.apps.exclude`         | [apps]                                     | `[]`         |
| `conditions.actions`              | [`register`], in place of `apps`           | (apps)       |
| `conditions.locations.include`    | `any`, `trusted` or [location ids]         | `any`        |
| `conditions.locations.exclude`    | `trusted` or [location ids]                | `[]`         |
| `conditions.device`               | `any`, `managed` or `personal`             | `any`        |
| `conditions.client_types`         | `all` or [`browser`, `modern`, `legacy`]   | `all`        |
| `grant.block`                     | `true` or `false`                          | `false`      |
| `grant.require`                   | [requirements, below]                      | `[]`         |
| `grant.mode`                      | `all` or `any` of `require`                | `all`        |
| `session.sign_in_frequency`       | `90s`, `30m`, `8h`, `1d`… or null          | null         |
| `session.persistent_browser`      | `default`, `always` or `never`             | `default`    |

Conditions left out do not restrict, except users: a policy names whom it is for, so a
half-written one affects no one. Exclusions beat inclusions. `all` stands alone (no
`include_groups` beside `include: all`); `block: true` takes no `require`; `any` and `trusted`
are keywords, not location ids. In YAML, unquoted `on`/`off` read as booleans and are accepted
for `state`. TOML has no null: leave `sign_in_frequency` out instead.

Requirements: `mfa` (a second factor), `phishing_resistant_mfa` (a passkey or security key),
`managed_device` (one of the organisation's own computers), `temporary_access_pass` (a pass
from the helpdesk). `actions: [register]` makes the policy about registering security info
instead of signing in to apps. A policy for `all` apps also covers Gatehouse's own pages.
"""

from __future__ import annotations

import re
import textwrap
import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, Literal, get_args

import yaml

from gatehouse import durations, tomlfile
from gatehouse.access.engine import (
    ClientType,
    DeviceCondition,
    Grant,
    LocationCondition,
    Mode,
    PersistentBrowser,
    Policy,
    Requirement,
    SessionControls,
    State,
    Target,
    UserAction,
    UserCondition,
)

Format = Literal["yaml", "toml"]
_Keys = tuple[str | int, ...]
_Locate = Callable[[_Keys], int | None]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LOCATION_KEYWORDS = ("any", "trusted")


class PolicyFileError(ValueError):
    """A policy dict or file is not acceptable. ``path`` is the key path (e.g.
    ``policies[2].grant.mode``), ``line`` the line in the file when known."""

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path, self.problem, self.line = path, problem, line
        where = f"{path}: " if path else ""
        super().__init__(f"line {line}: {where}{problem}" if line else f"{where}{problem}")


class _Invalid(Exception):
    """Raised while reading, before the caller knows how to name the place (path or line)."""

    def __init__(self, keys: _Keys, problem: str) -> None:
        super().__init__(problem)
        self.keys, self.problem = keys, problem


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """The canonical dict of a policy: every key present, lists sorted."""
    users, target, locations = policy.users, policy.target, policy.locations
    conditions: dict[str, Any] = {
        "users": {
            "include": "all" if users.include_all else sorted(users.include_users),
            "include_groups": sorted(users.include_groups),
            "exclude": sorted(users.exclude_users),
            "exclude_groups": sorted(users.exclude_groups),
        }
    }
    if target.actions:
        conditions["actions"] = sorted(target.actions)
    else:
        conditions["apps"] = {
            "include": "all" if target.apps_all else sorted(target.apps),
            "exclude": sorted(target.exclude_apps),
        }
    conditions["locations"] = {
        "include": _keyword_or_sorted(locations.include),
        "exclude": _keyword_or_sorted(locations.exclude),
    }
    conditions["device"] = policy.device
    conditions["client_types"] = sorted(policy.client_types) if policy.client_types else "all"
    frequency = policy.session.sign_in_frequency
    return {
        "id": policy.id,
        "name": policy.name,
        "state": policy.state,
        "message": policy.message,
        "conditions": conditions,
        "grant": {
            "block": policy.grant.block,
            "require": sorted(policy.grant.requirements),
            "mode": policy.grant.mode,
        },
        "session": {
            "sign_in_frequency": None if frequency is None else durations.format(frequency),
            "persistent_browser": policy.session.persistent_browser,
        },
    }


def policy_from_dict(data: Any, *, where: str = "") -> Policy:
    """Read one policy dict, filling in defaults. ``where`` prefixes the key path in errors
    (e.g. "policies[2]"); the admin API leaves it empty."""
    try:
        return _policy(data, ())
    except _Invalid as error:
        raise PolicyFileError(_path(where, error.keys), error.problem) from None


def load(text: str, fmt: Format) -> list[Policy]:
    """Read a policy file. Errors name the key path and, as well as the format allows, the line."""
    if fmt == "yaml":
        data, locate = _parse_yaml(text)
    elif fmt == "toml":
        data, locate = _parse_toml(text)
    else:
        raise ValueError(f"unknown policy file format {fmt!r}; use 'yaml' or 'toml'")
    try:
        return _policies(data)
    except _Invalid as error:
        raise PolicyFileError(_path("", error.keys), error.problem, locate(error.keys)) from None


def dump(policies: Iterable[Policy], fmt: Format) -> str:
    """Write a policy file that ``load`` reads back to equal policies."""
    dicts = [policy_to_dict(policy) for policy in policies]
    if fmt == "yaml":
        if not dicts:
            return "policies: []\n"
        # One policy at a time, so that a blank line can separate them.
        items = (
            textwrap.indent(
                yaml.dump([d], Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=98), "  "
            )
            for d in dicts
        )
        return "policies:\n" + "\n".join(items)
    if fmt == "toml":
        return tomlfile.dumps({"policies": [_without_nulls(d) for d in dicts]})
    raise ValueError(f"unknown policy file format {fmt!r}; use 'yaml' or 'toml'")


def default_policies() -> list[Policy]:
    """The documented starting set, every policy off (default_policies.yaml)."""
    text = resources.files(__package__).joinpath("default_policies.yaml").read_text("utf-8")
    return load(text, "yaml")


# Reading ---------------------------------------------------------------------------------


def _policies(data: Any) -> list[Policy]:
    if data is None:
        raise _Invalid((), "the file is empty; it needs a 'policies' list")
    top = _mapping(data, (), ("policies",))
    if "policies" not in top:
        raise _Invalid((), "the file has no 'policies' list")
    items = top["policies"]
    if not isinstance(items, list):
        raise _Invalid(("policies",), f"expected a list of policies, not {_show(items)}")
    policies: list[Policy] = []
    first_with_id: dict[str, int] = {}
    for i, item in enumerate(items):
        policy = _policy(item, ("policies", i))
        if policy.id in first_with_id:
            earlier = first_with_id[policy.id]
            raise _Invalid(
                ("policies", i, "id"), f"{policy.id!r} is already the id of policies[{earlier}]"
            )
        first_with_id[policy.id] = i
        policies.append(policy)
    return policies


def _policy(data: Any, at: _Keys) -> Policy:
    d = _mapping(data, at, ("id", "name", "state", "message", "conditions", "grant", "session"))
    if "id" not in d:
        raise _Invalid(at, "'id' is required: a short unique name such as 'mfa-outside-office'")
    policy_id = d["id"]
    if not (isinstance(policy_id, str) and _ID.fullmatch(policy_id)):
        raise _Invalid(
            (*at, "id"),
            f"{_show(policy_id)} is not a valid id; use up to 64 letters, digits, '.', '_' or '-'",
        )
    conditions = _mapping(
        d.get("conditions", {}),
        (*at, "conditions"),
        ("users", "apps", "actions", "locations", "device", "client_types"),
    )
    return Policy(
        id=policy_id,
        name=_text(d.get("name", policy_id), (*at, "name"), required=True),
        state=_state(d.get("state", "off"), (*at, "state")),
        message=_text(d.get("message", ""), (*at, "message")),
        users=_users(conditions.get("users", {}), (*at, "conditions", "users")),
        target=_target(conditions, (*at, "conditions")),
        locations=_locations(conditions.get("locations", {}), (*at, "conditions", "locations")),
        device=_choice(
            conditions.get("device", "any"),
            (*at, "conditions", "device"),
            get_args(DeviceCondition),
        ),
        client_types=_client_types(
            conditions.get("client_types", "all"), (*at, "conditions", "client_types")
        ),
        grant=_grant(d.get("grant", {}), (*at, "grant")),
        session=_session(d.get("session", {}), (*at, "session")),
    )


def _state(value: Any, at: _Keys) -> State:
    # YAML 1.1 reads unquoted on/off as booleans; the intent is unmistakable, so take it.
    if isinstance(value, bool):
        return "on" if value else "off"
    state: State = _choice(value, at, get_args(State))
    return state


def _users(data: Any, at: _Keys) -> UserCondition:
    d = _mapping(data, at, ("include", "include_groups", "exclude", "exclude_groups"))
    include = d.get("include", [])
    include_all = include == "all"
    include_groups = _names(d.get("include_groups", []), (*at, "include_groups"), "groups")
    if include_all and include_groups:
        raise _Invalid(
            (*at, "include_groups"), "'include: all' already includes every group; remove one"
        )
    return UserCondition(
        include_all=include_all,
        include_users=frozenset()
        if include_all
        else _names(include, (*at, "include"), "usernames", or_="'all'"),
        include_groups=include_groups,
        exclude_users=_names(d.get("exclude", []), (*at, "exclude"), "usernames"),
        exclude_groups=_names(d.get("exclude_groups", []), (*at, "exclude_groups"), "groups"),
    )


def _target(conditions: Mapping[str, Any], at: _Keys) -> Target:
    if "actions" in conditions:
        if "apps" in conditions:
            raise _Invalid((*at, "actions"), "give either 'apps' or 'actions', not both")
        actions: frozenset[UserAction] = _members(
            conditions["actions"], (*at, "actions"), get_args(UserAction)
        )
        return Target(actions=actions)
    d = _mapping(conditions.get("apps", {}), (*at, "apps"), ("include", "exclude"))
    include = d.get("include", "all")
    exclude = _names(d.get("exclude", []), (*at, "apps", "exclude"), "apps")
    if include == "all":
        return Target(apps_all=True, exclude_apps=exclude)
    apps = _names(include, (*at, "apps", "include"), "apps", or_="'all'")
    return Target(apps=apps, exclude_apps=exclude)


def _locations(data: Any, at: _Keys) -> LocationCondition:
    d = _mapping(data, at, ("include", "exclude"))
    include = d.get("include", "any")
    exclude = d.get("exclude", [])
    return LocationCondition(
        include=include
        if include in ("any", "trusted")
        else _location_ids(include, (*at, "include"), "'any', 'trusted'"),
        exclude="trusted"
        if exclude == "trusted"
        else _location_ids(exclude, (*at, "exclude"), "'trusted'"),
    )


def _location_ids(value: Any, at: _Keys, keywords: str) -> frozenset[str]:
    ids = _names(value, at, "location ids", or_=keywords)
    for keyword in _LOCATION_KEYWORDS:
        if keyword in ids:
            raise _Invalid(
                at, f"{keyword!r} is a keyword, not a location id: write it alone, not in a list"
            )
    return ids


def _client_types(value: Any, at: _Keys) -> frozenset[ClientType]:
    if value == "all":
        return frozenset()
    if value == []:
        raise _Invalid(at, "an empty list would match no client; write 'all' for every client")
    types: frozenset[ClientType] = _members(value, at, get_args(ClientType), or_="'all'")
    return types


def _grant(data: Any, at: _Keys) -> Grant:
    d = _mapping(data, at, ("block", "require", "mode"))
    block = d.get("block", False)
    if not isinstance(block, bool):
        raise _Invalid((*at, "block"), f"{_show(block)} is not true or false")
    require: frozenset[Requirement] = _members(
        d.get("require", []), (*at, "require"), get_args(Requirement), allow_empty=True
    )
    if block and require:
        raise _Invalid((*at, "require"), "a policy that blocks has nothing to require; remove one")
    mode: Mode = _choice(d.get("mode", "all"), (*at, "mode"), get_args(Mode))
    return Grant(block=block, requirements=require, mode=mode)


def _session(data: Any, at: _Keys) -> SessionControls:
    d = _mapping(data, at, ("sign_in_frequency", "persistent_browser"))
    frequency = d.get("sign_in_frequency")
    browser: PersistentBrowser = _choice(
        d.get("persistent_browser", "default"),
        (*at, "persistent_browser"),
        get_args(PersistentBrowser),
    )
    return SessionControls(
        sign_in_frequency=None
        if frequency is None
        else _parse_duration(frequency, (*at, "sign_in_frequency")),
        persistent_browser=browser,
    )


def _mapping(value: Any, at: _Keys, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(at, f"expected a mapping with keys {', '.join(keys)}; got {_show(value)}")
    for key in value:
        if key not in keys:
            raise _Invalid((*at, str(key)), f"unknown key; valid keys here: {', '.join(keys)}")
    return value


def _choice(value: Any, at: _Keys, valid: tuple[Any, ...]) -> Any:
    if isinstance(value, str) and value in valid:
        return value
    raise _Invalid(at, f"{_show(value)} is not {_one_of(valid)}")


def _text(value: Any, at: _Keys, *, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise _Invalid(at, f"{_show(value)} is not {'non-empty ' if required else ''}text")
    return value


def _names(value: Any, at: _Keys, what: str, *, or_: str = "") -> frozenset[str]:
    """A list of distinct non-empty strings; ``or_`` names the keywords the key also takes."""
    if not isinstance(value, list):
        expected = f"{or_} or a list of {what}" if or_ else f"a list of {what}"
        raise _Invalid(at, f"{_show(value)} is not valid; expected {expected}")
    seen: set[str] = set()
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise _Invalid((*at, i), f"{_show(name)} is not valid; {what} are non-empty text")
        if name in seen:
            raise _Invalid((*at, i), f"{name!r} is listed twice")
        seen.add(name)
    return frozenset(seen)


def _members(
    value: Any, at: _Keys, valid: tuple[str, ...], *, or_: str = "", allow_empty: bool = False
) -> Any:
    """A list drawn from ``valid``; the error names the offending item and what is valid."""
    listed = f"a list drawn from {', '.join(map(repr, valid))}"
    if not isinstance(value, list):
        expected = f"{or_} or {listed}" if or_ else listed
        raise _Invalid(at, f"{_show(value)} is not valid; expected {expected}")
    for i, name in enumerate(value):
        if name not in valid:
            raise _Invalid((*at, i), f"{_show(name)} is not {_one_of(valid)}")
    if not value and not allow_empty:
        raise _Invalid(at, f"the list is empty; expected {listed}")
    return _names(value, at, "entries")


def _parse_duration(value: Any, at: _Keys) -> int:
    try:
        return durations.parse(value)
    except ValueError:
        raise _Invalid(
            at, f"{_show(value)} is not a duration such as '30m', '8h' or '1d'"
        ) from None


def _keyword_or_sorted(value: str | frozenset[str]) -> str | list[str]:
    return value if isinstance(value, str) else sorted(value)


def _one_of(valid: Iterable[str]) -> str:
    names = [repr(v) for v in valid]
    return names[0] if len(names) == 1 else f"one of {', '.join(names[:-1])} or {names[-1]}"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _path(where: str, keys: _Keys) -> str:
    path = where
    for key in keys:
        path += f"[{key}]" if isinstance(key, int) else (f".{key}" if path else key)
    return path


# Formats -----------------------------------------------------------------------------------


# Without PyYAML's type stubs SafeDumper is Any to mypy; the ignore serves either way.
class _Dumper(yaml.SafeDumper):  # type: ignore[misc,unused-ignore]
    """Block mappings and one-line lists ([mfa]), without touching yaml's global dumper."""


# PyYAML writes NEL raw inside a quoted scalar and then reads it back as a line break; a
# double-quoted scalar escapes it.
_Dumper.add_representer(
    str,
    lambda dumper, data: dumper.represent_scalar(
        "tag:yaml.org,2002:str", data, style='"' if "\x85" in data else None
    ),
)
_Dumper.add_representer(
    list,
    lambda dumper, data: dumper.represent_sequence(
        "tag:yaml.org,2002:seq", data, flow_style=all(isinstance(v, str) for v in data)
    ),
)


def _parse_yaml(text: str) -> tuple[Any, _Locate]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _reject_duplicate_keys(root, (), set())
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyFileError("", f"not valid YAML: {error.problem or error}", line) from None
    except yaml.YAMLError as error:
        raise PolicyFileError("", f"not valid YAML: {error}") from None
    except _Invalid as error:
        raise PolicyFileError(
            _path("", error.keys), error.problem, _yaml_line(root, error.keys)
        ) from None
    finally:
        loader.dispose()
    return data, lambda keys: _yaml_line(root, keys)


def _reject_duplicate_keys(node: yaml.Node, at: _Keys, seen: set[int]) -> None:
    # PyYAML keeps the last of two equal keys silently; in a policy that hides a mistake.
    if id(node) in seen:  # an alias may point back up the tree
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in lines and key != "<<":
                raise _Invalid(
                    (*at, key),
                    f"appears twice (lines {lines[key]} and {key_node.start_mark.line + 1})",
                )
            lines[key] = key_node.start_mark.line + 1
            _reject_duplicate_keys(value_node, (*at, key), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _reject_duplicate_keys(item, (*at, i), seen)


def _yaml_line(root: yaml.Node | None, keys: _Keys) -> int | None:
    """The line of the deepest node on ``keys`` that exists: the key itself for a mapping."""
    if root is None:
        return None
    node = root
    line: int = root.start_mark.line
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = next((pair for pair in node.value if pair[0].value == key), None)
            if found is None:
                break
            line, node = found[0].start_mark.line, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _without_nulls(table: Mapping[str, Any]) -> dict[str, Any]:
    """TOML has no null: a key whose value is None is left out (and read back as None)."""
    return {
        key: _without_nulls(value) if isinstance(value, Mapping) else value
        for key, value in table.items()
        if value is not None
    }


def _parse_toml(text: str) -> tuple[Any, _Locate]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11 keeps the position only in the message: "... (at line N, column M)".
        found = re.search(r"at line (\d+)", str(error))
        line = int(found[1]) if found else None
        raise PolicyFileError("", f"not valid TOML: {error}", line) from None
    return data, lambda keys: _toml_line(text, keys)


_POLICY_HEADER = re.compile(r"\s*\[\[\s*policies\s*\]\]")


def _toml_line(text: str, keys: _Keys) -> int | None:
    """tomllib keeps no positions, so search: the n-th ``[[policies]]`` header, then each key
    in turn below it, within that policy's part of the file."""
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if _POLICY_HEADER.match(line)]
    if len(keys) < 2 or not isinstance(keys[1], int) or keys[1] >= len(headers):
        return None
    n = keys[1]
    found = headers[n]
    end = headers[n + 1] if n + 1 < len(headers) else len(lines)
    for key in keys[2:]:
        if isinstance(key, int):
            continue
        name = re.escape(key)
        # A key starts a line (key = ..., [table.key], dotted.key = ...) or sits in an inline
        # table ({ key = ... }).
        defines = re.compile(
            rf'^\s*(?:\[\[?\s*)?(?:[\w"-]+\s*\.\s*)*"?{name}"?\s*(?:=|\.|\])|[{{,]\s*"?{name}"?\s*='
        )
        following = (i for i in range(found, end) if defines.search(lines[i]))
        line = next(following, None)
        if line is None:
            break
        found = line
    return found + 1
