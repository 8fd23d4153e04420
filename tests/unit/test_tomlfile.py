"""Every TOML file Gatehouse writes goes through gatehouse.tomlfile (tomli-w): what it writes
reads back equal, awkward strings included."""

import tomllib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatehouse import config, tomlfile
from gatehouse.access.policyfile import default_policies, dump, load

AWKWARD = [
    'say "hello"',
    "C:\\Users\\ward7\\",
    "line one\nline two\r\n",
    "tab\tand NUL\x00 and DEL\x7f and escape\x1b[0m",
    "Zoë Ångström — 病院 🏥",
    "\\u0041 is not A",
    "'''",
    '"""',
    "# not a comment",
    "key = value",
    "]",
    "",
]

scalars = st.text() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
keys = st.text(min_size=1, max_size=10)
values = st.recursive(
    scalars | st.lists(scalars, max_size=4),
    lambda inner: st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(keys, values, max_size=5))
def test_any_document_reads_back_equal(document):
    assert tomllib.loads(tomlfile.dumps(document)) == document


@given(keys, values)
def test_one_value_on_one_line_reads_back_equal(name, value):
    line = f"{tomlfile.key(name)} = {tomlfile.value(value)}"
    assert "\n" not in line
    assert tomllib.loads(line) == {name: value}


@pytest.mark.parametrize("text", AWKWARD)
def test_awkward_strings_round_trip(text):
    document = {"plain": text, "listed": [text, text], "table": {text or "empty": text}}
    assert tomllib.loads(tomlfile.dumps(document)) == document
    assert tomllib.loads(f"v = {tomlfile.value(text)}") == {"v": text}


def test_lists_of_text_stay_on_one_line():
    assert tomlfile.dumps({"require": ["managed_device", "mfa"]}) == (
        'require = ["managed_device", "mfa"]\n'
    )


@pytest.mark.parametrize("text", [t for t in AWKWARD if t.strip()])
@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_policy_file_round_trips_awkward_names_and_messages(text, fmt):
    awkward = [replace(p, name=text, message=text) for p in default_policies()]
    assert load(dump(awkward, fmt), fmt) == awkward


@pytest.mark.parametrize("text", [t for t in AWKWARD if t.strip() and "\x00" not in t])
def test_configuration_file_round_trips_awkward_text(text, tmp_path):
    table = {
        "name": "corp",
        "kind": "active_directory",
        "urls": ["ldaps://dc1.corp"],
        "bind_dn": "CN=Smith\\, John,OU=Staff,DC=corp",
        "user_base": "DC=corp",
        "attributes": {"department": "physicalDeliveryOfficeName"},
    }
    path = tmp_path / "gatehouse.toml"
    path.write_text(
        config.render_commented(
            {"organisation": {"helpdesk": text}, "directory": {"ldap": [table]}}
        )
    )
    loaded = config.load(path, environ={})
    assert loaded["organisation.helpdesk"] == text
    (source,) = loaded["directory.ldap"]
    assert source.bind_dn == table["bind_dn"]
