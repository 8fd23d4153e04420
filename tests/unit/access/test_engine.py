"""The policy engine: which policies apply to a sign-in, what they demand, and the trace."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatehouse.access.engine import (
    ALL_APPS,
    DEFAULT_SESSION,
    Grant,
    LocationCondition,
    Policy,
    PolicySet,
    RequirementGroup,
    SessionControls,
    SignInContext,
    Target,
    UserCondition,
    evaluate,
)

EVERYONE = UserCondition(include_all=True)
MFA = Grant(requirements=frozenset({"mfa"}))
BLOCK = Grant(block=True)


def sign_in(**changes) -> SignInContext:
    """Alice, in staff, signing in to mail from the trusted office on a managed browser."""
    base = SignInContext(
        username="alice",
        groups=frozenset({"staff"}),
        app="mail",
        action="signin",
        locations=frozenset({"hq"}),
        trusted=True,
        device="managed",
        client_type="browser",
    )
    return replace(base, **changes)


def policy(policy_id: str = "p", **changes) -> Policy:
    """An enabled policy requiring MFA of everyone on every app, unless told otherwise."""
    base = Policy(id=policy_id, name=f"Policy {policy_id}", state="on", users=EVERYONE, grant=MFA)
    return replace(base, **changes)


def decide(ctx: SignInContext, *policies: Policy):
    return evaluate(ctx, PolicySet(policies))


def applies(ctx: SignInContext, p: Policy) -> bool:
    return decide(ctx, p).trace[0].result == "applied"


def first_unmet(ctx: SignInContext, p: Policy) -> tuple[str | None, str]:
    entry = decide(ctx, p).trace[0]
    return entry.unmet_condition, entry.detail


# Outcomes -----------------------------------------------------------------------------------


def test_no_policy_allows_with_an_empty_trace():
    decision = decide(sign_in())
    assert decision.allowed
    assert decision.outcome == "allow"
    assert decision.trace == ()
    assert decision.session == DEFAULT_SESSION


def test_applying_requirement_not_yet_met_asks_for_it():
    decision = decide(sign_in(), policy())
    assert decision.outcome == "requirements"
    assert not decision.allowed
    assert decision.unmet == (RequirementGroup("p", "all", frozenset({"mfa"})),)
    assert decision.needs("mfa")
    assert not decision.needs("managed_device")


def test_requirement_already_met_allows():
    assert decide(sign_in(satisfied=frozenset({"mfa"})), policy()).allowed


def test_all_mode_asks_only_for_what_is_still_missing():
    p = policy(grant=Grant(requirements=frozenset({"mfa", "phishing_resistant_mfa"})))
    decision = decide(sign_in(satisfied=frozenset({"mfa"})), p)
    assert decision.unmet == (RequirementGroup("p", "all", frozenset({"phishing_resistant_mfa"})),)
    assert decision.trace[0].grant_result == "unmet: phishing_resistant_mfa"


def test_any_mode_is_met_by_one_of_its_requirements():
    p = policy(grant=Grant(requirements=frozenset({"mfa", "managed_device"}), mode="any"))
    assert decide(sign_in(device="managed"), p).allowed
    decision = decide(sign_in(device="personal"), p)
    assert decision.unmet == (RequirementGroup("p", "any", frozenset({"mfa", "managed_device"})),)
    assert decision.trace[0].grant_result == "unmet: one of managed_device, mfa"
    assert decision.needs("mfa") and decision.needs("managed_device")


def test_managed_device_requirement_is_met_by_the_device_not_by_a_factor():
    p = policy(grant=Grant(requirements=frozenset({"managed_device"})))
    assert decide(sign_in(device="managed"), p).allowed
    assert decide(sign_in(device="personal", satisfied=frozenset({"mfa"})), p).needs(
        "managed_device"
    )


def test_every_applying_policy_must_be_satisfied():
    strong = policy("strong", grant=Grant(requirements=frozenset({"phishing_resistant_mfa"})))
    decision = decide(sign_in(satisfied=frozenset({"mfa"})), policy("basic"), strong)
    assert [group.policy_id for group in decision.unmet] == ["strong"]


def test_block_blocks_and_leaves_nothing_to_satisfy():
    decision = decide(sign_in(), policy("mfa"), policy("no", grant=BLOCK))
    assert decision.outcome == "block"
    assert decision.blocked_by == ("no",)
    assert decision.unmet == ()


def test_policy_with_only_session_controls_applies_without_demands():
    p = policy(grant=Grant(), session=SessionControls(sign_in_frequency=3600))
    decision = decide(sign_in(), p)
    assert decision.allowed
    assert decision.trace[0].grant_result == "satisfied"
    assert decision.session.sign_in_frequency == 3600


def test_message_comes_from_the_blocking_policy():
    decision = decide(
        sign_in(),
        policy("quiet", grant=BLOCK),
        policy("loud", grant=BLOCK, message="Call the helpdesk."),
        policy("mfa", message="Use your authenticator."),
    )
    assert decision.blocked_by == ("quiet", "loud")
    assert decision.message == "Call the helpdesk."


def test_message_comes_from_a_policy_with_unmet_requirements():
    decision = decide(
        sign_in(satisfied=frozenset({"mfa"})),
        policy("met", message="not shown"),
        policy(
            "tap", grant=Grant(requirements=frozenset({"temporary_access_pass"})), message="TAP"
        ),
    )
    assert decision.message == "TAP"


def test_allowed_sign_in_carries_no_message():
    assert decide(sign_in(satisfied=frozenset({"mfa"})), policy(message="x")).message == ""


# Users --------------------------------------------------------------------------------------


def test_policy_for_everyone_applies_to_anyone():
    assert applies(sign_in(username="zed", groups=frozenset()), policy())


def test_policy_for_named_users_applies_only_to_them():
    p = policy(users=UserCondition(include_users=frozenset({"alice"})))
    assert applies(sign_in(username="alice"), p)
    assert first_unmet(sign_in(username="bob"), p) == ("users", "user is not included")


def test_policy_for_groups_applies_to_members_of_any_of_them():
    p = policy(users=UserCondition(include_groups=frozenset({"finance", "staff"})))
    assert applies(sign_in(groups=frozenset({"staff"})), p)
    assert first_unmet(sign_in(groups=frozenset({"sales"})), p) == ("users", "user is not included")


def test_policy_for_nobody_applies_to_no_one():
    assert first_unmet(sign_in(), policy(users=UserCondition()))[0] == "users"


def test_excluded_user_beats_inclusion():
    p = policy(users=UserCondition(include_all=True, exclude_users=frozenset({"alice"})))
    assert first_unmet(sign_in(), p) == ("users", "user is excluded")
    assert applies(sign_in(username="bob"), p)


def test_excluded_group_beats_inclusion_by_name():
    p = policy(
        users=UserCondition(
            include_users=frozenset({"alice"}), exclude_groups=frozenset({"breakglass"})
        )
    )
    ctx = sign_in(groups=frozenset({"staff", "breakglass"}))
    assert first_unmet(ctx, p) == ("users", "user is in an excluded group")


def test_policy_naming_several_of_the_users_groups_counts_once():
    p = policy(users=UserCondition(include_groups=frozenset({"staff", "finance"})))
    decision = decide(sign_in(groups=frozenset({"staff", "finance"})), p)
    assert len(decision.unmet) == 1


# Target -------------------------------------------------------------------------------------


def test_policy_for_all_apps_covers_sign_ins_without_an_app():
    assert applies(sign_in(app=None), policy(target=ALL_APPS))


def test_policy_for_listed_apps_applies_only_to_them():
    p = policy(target=Target(apps=frozenset({"mail", "wiki"})))
    assert applies(sign_in(app="wiki"), p)
    assert first_unmet(sign_in(app="payroll"), p) == ("target", "app is not targeted")
    assert first_unmet(sign_in(app=None), p) == ("target", "app is not targeted")


def test_excluded_app_beats_all_apps():
    p = policy(target=Target(apps_all=True, exclude_apps=frozenset({"mail"})))
    assert first_unmet(sign_in(app="mail"), p) == ("target", "app is excluded")
    assert applies(sign_in(app="wiki"), p)


def test_app_policy_does_not_apply_to_registering_security_info():
    unmet = first_unmet(sign_in(action="register"), policy())
    assert unmet == ("target", "policy is for app sign-ins, not the register action")


def test_user_action_policy_applies_only_to_that_action():
    p = policy(target=Target(actions=frozenset({"register"})))
    assert applies(sign_in(action="register", app=None), p)
    unmet = first_unmet(sign_in(action="signin"), p)
    assert unmet == ("target", "policy is for user actions (register), not app sign-ins")


def test_target_cannot_name_both_apps_and_actions():
    with pytest.raises(ValueError, match="either apps or user actions"):
        Target(apps_all=True, actions=frozenset({"register"}))


def test_all_apps_or_all_users_leave_nothing_to_list():
    with pytest.raises(ValueError, match="every app"):
        Target(apps_all=True, apps=frozenset({"mail"}))
    with pytest.raises(ValueError, match="every user and group"):
        UserCondition(include_all=True, include_groups=frozenset({"staff"}))


# Locations ----------------------------------------------------------------------------------


def test_policy_for_trusted_locations_skips_untrusted_ones():
    p = policy(locations=LocationCondition(include="trusted"))
    assert applies(sign_in(trusted=True), p)
    ctx = sign_in(trusted=False, locations=frozenset())
    assert first_unmet(ctx, p) == ("locations", "sign-in is not from a trusted location")


def test_policy_for_listed_locations_applies_in_any_of_them():
    p = policy(locations=LocationCondition(include=frozenset({"branch", "vpn"})))
    assert applies(sign_in(locations=frozenset({"hq", "vpn"})), p)
    unmet = first_unmet(sign_in(locations=frozenset({"hq"})), p)
    assert unmet == ("locations", "sign-in is not from an included location")


def test_excluding_trusted_locations_leaves_everywhere_else():
    p = policy(locations=LocationCondition(exclude="trusted"))
    assert first_unmet(sign_in(trusted=True), p) == ("locations", "trusted locations are excluded")
    assert applies(sign_in(trusted=False, locations=frozenset()), p)


def test_excluded_location_beats_included_one():
    p = policy(locations=LocationCondition(include=frozenset({"hq"}), exclude=frozenset({"lab"})))
    ctx = sign_in(locations=frozenset({"hq", "lab"}))
    assert first_unmet(ctx, p) == ("locations", "sign-in is from an excluded location")
    assert applies(sign_in(locations=frozenset({"hq"})), p)


# Device and client type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "device", "applied"),
    [
        ("any", "managed", True),
        ("any", "personal", True),
        ("managed", "managed", True),
        ("managed", "personal", False),
        ("personal", "personal", True),
        ("personal", "managed", False),
    ],
)
def test_device_condition(condition, device, applied):
    assert applies(sign_in(device=device), policy(device=condition)) is applied


def test_device_mismatch_is_explained():
    unmet = first_unmet(sign_in(device="managed"), policy(device="personal"))
    assert unmet == ("device", "policy is for personal devices")


def test_client_type_condition_limits_the_policy_to_listed_clients():
    p = policy(client_types=frozenset({"legacy"}))
    assert applies(sign_in(client_type="legacy"), p)
    unmet = first_unmet(sign_in(client_type="browser"), p)
    assert unmet == ("client_type", "policy is for legacy clients")


def test_empty_client_types_cover_every_client():
    assert all(applies(sign_in(client_type=c), policy()) for c in ("browser", "modern", "legacy"))


def test_trace_names_the_first_unmet_condition_in_a_fixed_order():
    p = policy(
        target=Target(apps=frozenset({"wiki"})),
        users=UserCondition(include_users=frozenset({"bob"})),
        locations=LocationCondition(include="trusted"),
        device="personal",
        client_types=frozenset({"legacy"}),
    )
    ctx = sign_in(trusted=False, locations=frozenset())
    assert first_unmet(ctx, p)[0] == "target"
    p = replace(p, target=ALL_APPS)
    assert first_unmet(ctx, p)[0] == "users"
    p = replace(p, users=EVERYONE)
    assert first_unmet(ctx, p)[0] == "locations"
    p = replace(p, locations=LocationCondition())
    assert first_unmet(ctx, p)[0] == "device"
    p = replace(p, device="any")
    assert first_unmet(ctx, p)[0] == "client_type"


# States and the trace -----------------------------------------------------------------------


def test_off_policy_never_applies_and_is_listed_as_off():
    decision = decide(sign_in(), policy(state="off", grant=BLOCK))
    assert decision.allowed
    assert decision.trace[0].result == "off"
    assert decision.trace[0].unmet_condition is None


def test_report_only_block_is_recorded_but_not_enforced():
    decision = decide(sign_in(), policy(state="report_only", grant=BLOCK))
    assert decision.allowed
    assert decision.blocked_by == ()
    assert decision.trace[0].result == "report_only_applied"
    assert decision.trace[0].grant_result == "block"


def test_report_only_requirement_is_recorded_but_not_enforced():
    p = policy(state="report_only", session=SessionControls(sign_in_frequency=60))
    decision = decide(sign_in(), p)
    assert decision.allowed
    assert decision.unmet == ()
    assert decision.session == DEFAULT_SESSION
    assert decision.trace[0].grant_result == "unmet: mfa"


def test_report_only_policy_that_does_not_match_says_why():
    entry = decide(sign_in(device="managed"), policy(state="report_only", device="personal")).trace[
        0
    ]
    assert (entry.result, entry.unmet_condition) == ("report_only_not_applied", "device")


def test_trace_lists_every_policy_in_policy_order():
    policies = [
        policy("a", state="off"),
        policy("b", target=Target(apps=frozenset({"wiki"}))),
        policy("c", users=UserCondition(include_groups=frozenset({"staff"}))),
        policy("d", state="report_only"),
        policy("e", grant=BLOCK, users=UserCondition(include_users=frozenset({"bob"}))),
    ]
    decision = decide(sign_in(), *policies)
    assert [(e.policy_id, e.result) for e in decision.trace] == [
        ("a", "off"),
        ("b", "not_applied"),
        ("c", "applied"),
        ("d", "report_only_applied"),
        ("e", "not_applied"),
    ]
    assert decision.trace[2].name == "Policy c"


def test_decision_converts_to_plain_json():
    decision = decide(
        sign_in(),
        policy("a", session=SessionControls(sign_in_frequency=3600)),
        policy("b", state="off"),
    )
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["outcome"] == "requirements"
    assert data["unmet"] == [{"policy_id": "a", "mode": "all", "requirements": ["mfa"]}]
    assert data["session"] == {"sign_in_frequency": 3600, "persistent_browser": "default"}
    assert data["trace"][1] == {
        "policy_id": "b",
        "name": "Policy b",
        "state": "off",
        "result": "off",
        "unmet_condition": None,
        "detail": "policy is off",
        "grant_result": None,
    }


def test_policy_ids_must_be_unique():
    with pytest.raises(ValueError, match="'p'"):
        PolicySet([policy("p"), policy("p")])


def test_blocking_grant_cannot_also_require():
    with pytest.raises(ValueError, match="nothing left to require"):
        Grant(block=True, requirements=frozenset({"mfa"}))


# Session controls ---------------------------------------------------------------------------


def test_strictest_session_controls_of_applied_policies_win():
    decision = decide(
        sign_in(satisfied=frozenset({"mfa"})),
        policy("a", session=SessionControls(sign_in_frequency=28800, persistent_browser="always")),
        policy("b", session=SessionControls(sign_in_frequency=3600)),
        policy("c", session=SessionControls(persistent_browser="never")),
        policy("d", session=SessionControls(sign_in_frequency=60), device="personal"),
    )
    assert decision.session == SessionControls(sign_in_frequency=3600, persistent_browser="never")


def test_always_persistent_beats_default():
    decision = decide(
        sign_in(),
        policy("a", session=SessionControls(persistent_browser="always")),
        policy("b", session=SessionControls(sign_in_frequency=600)),
    )
    assert decision.session == SessionControls(sign_in_frequency=600, persistent_browser="always")


def test_sign_in_frequency_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        SessionControls(sign_in_frequency=0)


# Properties ---------------------------------------------------------------------------------

USERS = ("alice", "bob", "carol")
GROUPS = ("staff", "admins", "contractors")
APPS = ("mail", "wiki", "payroll")
LOCATIONS = ("hq", "branch", "vpn")


def subsets(items):
    return st.frozensets(st.sampled_from(items))


user_conditions = st.one_of(
    st.builds(
        UserCondition,
        include_all=st.just(True),
        exclude_users=subsets(USERS),
        exclude_groups=subsets(GROUPS),
    ),
    st.builds(
        UserCondition,
        include_users=subsets(USERS),
        include_groups=subsets(GROUPS),
        exclude_users=subsets(USERS),
        exclude_groups=subsets(GROUPS),
    ),
)
targets = st.one_of(
    st.builds(Target, apps_all=st.just(True), exclude_apps=subsets(APPS)),
    st.builds(Target, apps=subsets(APPS), exclude_apps=subsets(APPS)),
    st.just(Target(actions=frozenset({"register"}))),
)
location_conditions = st.builds(
    LocationCondition,
    include=st.sampled_from(["any", "trusted"]) | subsets(LOCATIONS),
    exclude=st.just("trusted") | subsets(LOCATIONS),
)
grants = st.one_of(
    st.just(BLOCK),
    st.builds(
        Grant,
        requirements=subsets(("mfa", "phishing_resistant_mfa", "managed_device")),
        mode=st.sampled_from(["all", "any"]),
    ),
)
sessions = st.builds(
    SessionControls,
    sign_in_frequency=st.none() | st.integers(1, 100_000),
    persistent_browser=st.sampled_from(["default", "always", "never"]),
)
policy_bodies = st.builds(
    Policy,
    id=st.just(""),
    name=st.just(""),
    state=st.sampled_from(["on", "off", "report_only"]),
    users=user_conditions,
    target=targets,
    locations=location_conditions,
    device=st.sampled_from(["any", "managed", "personal"]),
    client_types=subsets(("browser", "modern", "legacy")),
    grant=grants,
    session=sessions,
)
policy_lists = st.lists(policy_bodies, max_size=8).map(
    lambda ps: [replace(p, id=f"p{i}", name=f"P{i}") for i, p in enumerate(ps)]
)
contexts = st.builds(
    SignInContext,
    username=st.sampled_from(USERS),
    groups=subsets(GROUPS),
    app=st.sampled_from([*APPS, None, "elsewhere"]),
    action=st.sampled_from(["signin", "register"]),
    locations=subsets(LOCATIONS),
    trusted=st.booleans(),
    device=st.sampled_from(["managed", "personal"]),
    client_type=st.sampled_from(["browser", "modern", "legacy"]),
    satisfied=subsets(("mfa", "phishing_resistant_mfa")),
)


def matches(p: Policy, ctx: SignInContext) -> bool:
    """The policy semantics read straight off the design, as an oracle for the engine."""
    u, t, loc = p.users, p.target, p.locations
    users = (
        u.include_all or ctx.username in u.include_users or bool(ctx.groups & u.include_groups)
    ) and not (ctx.username in u.exclude_users or ctx.groups & u.exclude_groups)
    if t.actions:
        target = ctx.action in t.actions
    else:
        target = (
            ctx.action == "signin"
            and (t.apps_all or ctx.app in t.apps)
            and ctx.app not in t.exclude_apps
        )
    included = (
        True
        if loc.include == "any"
        else ctx.trusted
        if loc.include == "trusted"
        else bool(ctx.locations & loc.include)
    )
    excluded = ctx.trusted if loc.exclude == "trusted" else bool(ctx.locations & loc.exclude)
    return (
        users
        and target
        and included
        and not excluded
        and p.device in ("any", ctx.device)
        and (not p.client_types or ctx.client_type in p.client_types)
    )


@given(policy_lists, contexts)
def test_engine_applies_exactly_the_policies_whose_conditions_all_match(policies, ctx):
    decision = decide(ctx, *policies)
    for p, entry in zip(policies, decision.trace, strict=True):
        assert entry.policy_id == p.id
        if p.state == "off":
            assert entry.result == "off"
        elif matches(p, ctx):
            assert entry.result in ("applied", "report_only_applied")
            assert entry.unmet_condition is None
        else:
            assert entry.result in ("not_applied", "report_only_not_applied")
            assert entry.unmet_condition is not None


@given(policy_lists, contexts)
def test_any_applying_block_blocks_whatever_else_applies(policies, ctx):
    blockers = [p.id for p in policies if p.state == "on" and p.grant.block and matches(p, ctx)]
    decision = decide(ctx, *policies)
    assert decision.blocked_by == tuple(blockers)
    assert (decision.outcome == "block") == bool(blockers)


@given(policy_lists, contexts)
def test_report_only_policies_never_change_the_outcome(policies, ctx):
    enforced_only = [p if p.state != "report_only" else replace(p, state="off") for p in policies]
    with_report_only, without = decide(ctx, *policies), decide(ctx, *enforced_only)
    assert with_report_only.outcome == without.outcome
    assert with_report_only.blocked_by == without.blocked_by
    assert with_report_only.unmet == without.unmet
    assert with_report_only.session == without.session


@given(policy_bodies, contexts, st.data())
def test_excluded_user_group_or_location_is_never_applied(p, ctx, data):
    exclusion = data.draw(st.sampled_from(["user", "group", "location", "trusted"]))
    if exclusion == "user":
        p = replace(p, users=replace(p.users, exclude_users=p.users.exclude_users | {ctx.username}))
    elif exclusion == "group":
        group = data.draw(st.sampled_from(GROUPS))
        ctx = replace(ctx, groups=ctx.groups | {group})
        p = replace(p, users=replace(p.users, exclude_groups=p.users.exclude_groups | {group}))
    elif exclusion == "location":
        location = data.draw(st.sampled_from(LOCATIONS))
        ctx = replace(ctx, locations=ctx.locations | {location})
        excluded = {location} | (set() if p.locations.exclude == "trusted" else p.locations.exclude)
        p = replace(p, locations=replace(p.locations, exclude=frozenset(excluded)))
    else:
        ctx = replace(ctx, trusted=True)
        p = replace(p, locations=replace(p.locations, exclude="trusted"))
    decision = decide(ctx, replace(p, id="x", name="x"))
    assert decision.trace[0].result in ("off", "not_applied", "report_only_not_applied")
    assert decision.blocked_by == ()
    assert decision.unmet == ()
