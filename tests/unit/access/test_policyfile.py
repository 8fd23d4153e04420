"""Policy files and dicts: defaults, strict reading with located errors, exact round trips."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatehouse.access.engine import (
    Grant,
    LocationCondition,
    Policy,
    SessionControls,
    Target,
    UserCondition,
)
from gatehouse.access.policyfile import (
    Format,
    PolicyFileError,
    dump,
    load,
    policy_from_dict,
    policy_to_dict,
)

FULL = Policy(
    id="mfa-finance",
    name="Finance needs MFA away from the office",
    state="report_only",
    users=UserCondition(
        include_groups=frozenset({"finance", "payroll"}),
        exclude_users=frozenset({"breakglass"}),
    ),
    target=Target(apps=frozenset({"erp", "mail"})),
    locations=LocationCondition(include="any", exclude=frozenset({"hq", "branch"})),
    device="personal",
    client_types=frozenset({"browser", "modern"}),
    grant=Grant(requirements=frozenset({"mfa", "managed_device"}), mode="any"),
    session=SessionControls(sign_in_frequency=8 * 3600, persistent_browser="never"),
    message="Finance apps need a second factor outside the office.",
)


def error_of(data, **kwargs) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as caught:
        policy_from_dict(data, **kwargs)
    return caught.value


def load_error(text: str, fmt: Format) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as caught:
        load(textwrap.dedent(text), fmt)
    return caught.value


# Dicts --------------------------------------------------------------------------------------


def test_policy_with_only_an_id_takes_every_default():
    assert policy_from_dict({"id": "x"}) == Policy(id="x", name="x")


def test_omitted_users_mean_no_one_and_omitted_apps_mean_all():
    p = policy_from_dict({"id": "x", "conditions": {}})
    assert p.users == UserCondition()
    assert p.target == Target(apps_all=True)
    assert p.state == "off"


def test_dict_has_every_key_in_the_documented_shape():
    assert policy_to_dict(FULL) == {
        "id": "mfa-finance",
        "name": "Finance needs MFA away from the office",
        "state": "report_only",
        "message": "Finance apps need a second factor outside the office.",
        "conditions": {
            "users": {
                "include": [],
                "include_groups": ["finance", "payroll"],
                "exclude": ["breakglass"],
                "exclude_groups": [],
            },
            "apps": {"include": ["erp", "mail"], "exclude": []},
            "locations": {"include": "any", "exclude": ["branch", "hq"]},
            "device": "personal",
            "client_types": ["browser", "modern"],
        },
        "grant": {"block": False, "require": ["managed_device", "mfa"], "mode": "any"},
        "session": {"sign_in_frequency": "8h", "persistent_browser": "never"},
    }


def test_dict_round_trips():
    assert policy_from_dict(policy_to_dict(FULL)) == FULL


def test_user_action_policy_has_actions_instead_of_apps():
    p = replace(FULL, target=Target(actions=frozenset({"register"})))
    data = policy_to_dict(p)
    assert data["conditions"]["actions"] == ["register"]
    assert "apps" not in data["conditions"]
    assert policy_from_dict(data) == p


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("8h", 28800), ("1d", 86400), ("36h", 129600)]
)
def test_durations_are_read_and_written_in_their_largest_exact_unit(text, seconds):
    p = policy_from_dict({"id": "x", "session": {"sign_in_frequency": text}})
    assert p.session.sign_in_frequency == seconds
    assert policy_to_dict(p)["session"]["sign_in_frequency"] == text


def test_unquoted_yaml_on_and_off_are_taken_as_states():
    assert policy_from_dict({"id": "x", "state": True}).state == "on"
    assert policy_from_dict({"id": "x", "state": False}).state == "off"


def test_unknown_key_is_named_with_its_path_and_the_valid_keys():
    error = error_of({"id": "x", "conditions": {"users": {"includ": "all"}}})
    assert error.path == "conditions.users.includ"
    assert "unknown key" in str(error)
    assert "include, include_groups, exclude, exclude_groups" in str(error)


def test_bad_value_is_named_with_what_is_valid():
    error = error_of({"id": "x", "conditions": {"locations": {"include": "trustd"}}})
    assert str(error) == (
        "conditions.locations.include: 'trustd' is not valid; "
        "expected 'any', 'trusted' or a list of location ids"
    )


def test_where_prefixes_the_key_path():
    error = error_of({"id": "x", "grant": {"mode": "most"}}, where="policies[2]")
    assert str(error) == "policies[2].grant.mode: 'most' is not one of 'all' or 'any'"


def test_bad_list_item_is_named_by_position():
    error = error_of({"id": "x", "grant": {"require": ["mfa", "sms"]}})
    assert error.path == "grant.require[1]"
    assert "'sms' is not one of 'mfa', 'phishing_resistant_mfa'" in str(error)


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({}, "", "'id' is required"),
        ({"id": "has space"}, "id", "not a valid id"),
        ({"id": 7}, "id", "7 is not a valid id"),
        ({"id": "x", "name": " "}, "name", "not non-empty text"),
        ({"id": "x", "state": "enabled"}, "state", "one of 'on', 'off' or 'report_only'"),
        ({"id": "x", "conditions": []}, "conditions", "expected a mapping"),
        ({"id": "x", "conditions": {"users": {"include": "everyone"}}}, "conditions.users.include",
         "expected 'all' or a list of usernames"),
        ({"id": "x", "conditions": {"users": {"exclude": ["a", "a"]}}},
         "conditions.users.exclude[1]", "'a' is listed twice"),
        ({"id": "x", "conditions": {"users": {"include": ["a", ""]}}},
         "conditions.users.include[1]", "non-empty text"),
        ({"id": "x", "conditions": {"users": {"include": "all", "include_groups": ["g"]}}},
         "conditions.users.include_groups", "already includes every group"),
        ({"id": "x", "conditions": {"apps": {"include": "all"}, "actions": ["register"]}},
         "conditions.actions", "either 'apps' or 'actions'"),
        ({"id": "x", "conditions": {"actions": ["signin"]}}, "conditions.actions[0]",
         "'signin' is not 'register'"),
        ({"id": "x", "conditions": {"actions": []}}, "conditions.actions", "the list is empty"),
        ({"id": "x", "conditions": {"locations": {"exclude": ["trusted"]}}},
         "conditions.locations.exclude", "'trusted' is a keyword"),
        ({"id": "x", "conditions": {"locations": {"exclude": "any"}}},
         "conditions.locations.exclude", "expected 'trusted' or a list of location ids"),
        ({"id": "x", "conditions": {"device": "laptop"}}, "conditions.device",
         "one of 'any', 'managed' or 'personal'"),
        ({"id": "x", "conditions": {"client_types": []}}, "conditions.client_types",
         "write 'all'"),
        ({"id": "x", "conditions": {"client_types": ["pop3"]}}, "conditions.client_types[0]",
         "one of 'browser', 'modern' or 'legacy'"),
        ({"id": "x", "grant": {"block": "yes"}}, "grant.block", "not true or false"),
        ({"id": "x", "grant": {"block": True, "require": ["mfa"]}}, "grant.require",
         "nothing to require"),
        ({"id": "x", "session": {"sign_in_frequency": "8 hours"}}, "session.sign_in_frequency",
         "not a duration such as '30m', '8h' or '1d'"),
        ({"id": "x", "session": {"sign_in_frequency": 3600}}, "session.sign_in_frequency",
         "3600 is not a duration"),
        # Beyond any timedelta: every sign-in it applied to would fail.
        ({"id": "x", "session": {"sign_in_frequency": "9999999999999999999999d"}},
         "session.sign_in_frequency", "not a duration such as"),
        ({"id": "x", "session": {"persistent_browser": "sometimes"}},
         "session.persistent_browser", "one of 'default', 'always' or 'never'"),
    ],
)  # fmt: skip
def test_invalid_policy_is_refused_naming_the_key(data, path, fragment):
    error = error_of(data)
    assert error.path == path
    assert fragment in str(error)
    assert isinstance(error, ValueError)


# Files --------------------------------------------------------------------------------------

YAML_FILE = """\
    policies:
      - id: first
        conditions:
          users: {include: all}
      - id: second
        state: on
        conditions:
          users:
            include: all
          locations:
            include: trustd
"""

TOML_FILE = """\
    [[policies]]
    id = "first"

    [[policies]]
    id = "second"
    state = "on"

    [policies.conditions.users]
    include = "all"

    [policies.conditions.locations]
    include = "trustd"
"""


def test_yaml_error_names_the_key_and_its_line():
    error = load_error(YAML_FILE, "yaml")
    assert error.path == "policies[1].conditions.locations.include"
    assert error.line == 11
    assert str(error).startswith("line 11: policies[1].conditions.locations.include: 'trustd'")


def test_toml_error_names_the_key_and_its_line():
    error = load_error(TOML_FILE, "toml")
    assert error.path == "policies[1].conditions.locations.include"
    assert error.line == 12


def test_unknown_key_in_a_file_is_located():
    error = load_error("policies:\n  - id: a\n    grnt: {block: true}\n", "yaml")
    assert (error.path, error.line) == ("policies[0].grnt", 3)
    error = load_error('[[policies]]\nid = "a"\n\n[policies.grnt]\nblock = true\n', "toml")
    assert (error.path, error.line) == ("policies[0].grnt", 4)


def test_bad_list_item_in_yaml_is_located_on_its_own_line():
    text = "policies:\n  - id: a\n    grant:\n      require:\n        - mfa\n        - sms\n"
    error = load_error(text, "yaml")
    assert (error.path, error.line) == ("policies[0].grant.require[1]", 6)


def test_toml_key_in_inline_table_or_dotted_form_is_located():
    text = '[[policies]]\nid = "a"\nname = "A"\nconditions.device = "laptop"\n'
    assert load_error(text, "toml").line == 4
    text = '[[policies]]\nid = "a"\n\ngrant = { block = true, mode = "most" }\n'
    assert load_error(text, "toml").line == 4


def test_missing_id_in_a_file_points_at_the_policy():
    error = load_error("policies:\n  - id: a\n  - name: No id\n", "yaml")
    assert (error.path, error.line) == ("policies[1]", 3)
    assert "'id' is required" in str(error)


def test_duplicate_policy_ids_are_refused():
    error = load_error("policies:\n  - id: a\n  - id: b\n  - id: a\n", "yaml")
    assert (error.path, error.line) == ("policies[2].id", 4)
    assert "'a' is already the id of policies[0]" in str(error)
    error = load_error('[[policies]]\nid = "a"\n[[policies]]\nid = "a"\n', "toml")
    assert (error.path, error.line) == ("policies[1].id", 4)


def test_duplicate_yaml_key_is_refused_rather_than_silently_overwritten():
    text = "policies:\n  - id: a\n    state: 'on'\n    state: 'off'\n"
    error = load_error(text, "yaml")
    assert error.path == "policies[0].state"
    assert "appears twice (lines 3 and 4)" in str(error)


def test_yaml_syntax_error_is_reported_with_its_line():
    error = load_error("policies:\n  - id: a\n    name: [unclosed\n  - id: b\n", "yaml")
    assert error.line is not None and error.line >= 3
    assert "not valid YAML" in str(error)


def test_toml_syntax_error_is_reported_with_its_line():
    error = load_error('[[policies]]\nid = "a"\nname = \n', "toml")
    assert "not valid TOML" in str(error)
    assert error.line == 3


@pytest.mark.parametrize(
    ("text", "fmt", "fragment"),
    [
        ("", "yaml", "the file is empty"),
        ("rules: []\n", "yaml", "unknown key"),
        ("{}\n", "yaml", "no 'policies' list"),
        ("policies: {id: a}\n", "yaml", "expected a list of policies"),
        ("- id: a\n", "yaml", "expected a mapping"),
        ("", "toml", "no 'policies' list"),
    ],
)
def test_file_without_a_policies_list_is_refused(text, fmt, fragment):
    assert fragment in str(load_error(text, fmt))


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="'json'"):
        load("{}", "json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'ini'"):
        dump([], "ini")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["yaml", "toml"])
def test_no_policies_round_trip(fmt):
    assert load(dump([], fmt), fmt) == []


def test_yaml_file_is_written_for_people_to_read():
    text = dump([FULL], "yaml")
    assert "    grant:\n      block: false\n      require: [managed_device, mfa]\n" in text
    assert "      sign_in_frequency: 8h\n" in text


def test_toml_file_leaves_out_an_unset_sign_in_frequency():
    text = dump([replace(FULL, session=SessionControls())], "toml")
    assert "sign_in_frequency" not in text
    assert 'require = ["managed_device", "mfa"]' in text


# Round trips --------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).filter(
    lambda s: s.strip() and s not in ("any", "trusted")
)
name_sets = st.frozensets(names, max_size=3)
policies = st.builds(
    Policy,
    id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    name=st.text(st.characters(codec="utf-8"), min_size=1).filter(str.strip),
    state=st.sampled_from(["on", "off", "report_only"]),
    users=st.one_of(
        st.builds(
            UserCondition,
            include_all=st.just(True),
            exclude_users=name_sets,
            exclude_groups=name_sets,
        ),
        st.builds(
            UserCondition,
            include_users=name_sets,
            include_groups=name_sets,
            exclude_users=name_sets,
            exclude_groups=name_sets,
        ),
    ),
    target=st.one_of(
        st.builds(Target, apps_all=st.just(True), exclude_apps=name_sets),
        st.builds(Target, apps=name_sets, exclude_apps=name_sets),
        st.just(Target(actions=frozenset({"register"}))),
    ),
    locations=st.builds(
        LocationCondition,
        include=st.sampled_from(["any", "trusted"]) | name_sets,
        exclude=st.just("trusted") | name_sets,
    ),
    device=st.sampled_from(["any", "managed", "personal"]),
    client_types=st.frozensets(st.sampled_from(["browser", "modern", "legacy"])),
    grant=st.just(Grant(block=True))
    | st.builds(
        Grant,
        requirements=st.frozensets(
            st.sampled_from(
                ["mfa", "phishing_resistant_mfa", "managed_device", "temporary_access_pass"]
            )
        ),
        mode=st.sampled_from(["all", "any"]),
    ),
    session=st.builds(
        SessionControls,
        sign_in_frequency=st.none() | st.integers(1, 10**7),
        persistent_browser=st.sampled_from(["default", "always", "never"]),
    ),
    message=st.text(st.characters(codec="utf-8")),
)
policy_lists = st.lists(policies, max_size=4, unique_by=lambda p: p.id)


@settings(max_examples=60)
@given(policy_lists, st.sampled_from(["yaml", "toml"]))
def test_dump_then_load_gives_equal_policies_and_identical_text(ps, fmt):
    text = dump(ps, fmt)
    assert load(text, fmt) == ps
    assert dump(load(text, fmt), fmt) == text


@given(policies)
def test_dict_round_trip_is_exact(p):
    assert policy_from_dict(policy_to_dict(p)) == p
