"""The shipped starting policies: all off as shipped; switched on, a password alone is enough
only on a managed device at a trusted location."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gatehouse.access.engine import Decision, PolicySet, SignInContext, evaluate
from gatehouse.access.policyfile import default_policies, dump, load

SWITCHED_ON = PolicySet(replace(p, state="on") for p in default_policies())
TAP = frozenset({"temporary_access_pass", "mfa"})


def sign_in(*, trusted: bool, managed: bool, **changes) -> Decision:
    ctx = SignInContext(
        username="alice",
        groups=frozenset({"staff"}),
        app="mail",
        action="signin",
        locations=frozenset({"hq"}) if trusted else frozenset(),
        trusted=trusted,
        device="managed" if managed else "personal",
        client_type="browser",
    )
    return evaluate(replace(ctx, **changes), SWITCHED_ON)


def test_every_default_policy_ships_switched_off():
    policies = default_policies()
    assert [p.name for p in policies] == [
        "Require MFA outside trusted locations",
        "Require MFA on personal devices",
        "Register security info only from trusted locations",
        "Block legacy authentication",
    ]
    assert {p.state for p in policies} == {"off"}


def test_defaults_switched_off_let_a_password_through_anywhere():
    off = PolicySet(default_policies())
    decision = evaluate(
        SignInContext(
            username="alice",
            groups=frozenset(),
            app="mail",
            action="signin",
            locations=frozenset(),
            trusted=False,
            device="personal",
            client_type="legacy",
        ),
        off,
    )
    assert decision.allowed
    assert {entry.result for entry in decision.trace} == {"off"}


OUTSIDE = "mfa-outside-trusted-locations"
PERSONAL = "mfa-on-personal-devices"


@pytest.mark.parametrize(
    ("trusted", "managed", "asking_for_mfa"),
    [
        (True, True, []),
        (True, False, [PERSONAL]),
        (False, True, [OUTSIDE]),
        (False, False, [OUTSIDE, PERSONAL]),
    ],
)
def test_password_alone_is_enough_only_on_a_managed_device_at_a_trusted_location(
    trusted, managed, asking_for_mfa
):
    decision = sign_in(trusted=trusted, managed=managed)
    assert decision.outcome == ("requirements" if asking_for_mfa else "allow")
    assert [(g.policy_id, g.requirements) for g in decision.unmet] == [
        (policy_id, {"mfa"}) for policy_id in asking_for_mfa
    ]


@pytest.mark.parametrize(("trusted", "managed"), [(True, False), (False, True), (False, False)])
def test_second_factor_satisfies_every_default_policy(trusted, managed):
    assert sign_in(trusted=trusted, managed=managed, satisfied=frozenset({"mfa"})).allowed


@pytest.mark.parametrize("trusted", [True, False])
@pytest.mark.parametrize("managed", [True, False])
def test_legacy_client_is_blocked_everywhere(trusted, managed):
    decision = sign_in(trusted=trusted, managed=managed, client_type="legacy")
    assert decision.outcome == "block"
    assert decision.blocked_by == ("block-legacy-authentication",)
    assert "modern app" in decision.message


def test_registering_from_an_untrusted_location_needs_a_temporary_access_pass():
    decision = sign_in(
        trusted=False, managed=True, action="register", app=None, satisfied=frozenset({"mfa"})
    )
    assert decision.outcome == "requirements"
    assert decision.needs("temporary_access_pass")
    assert "helpdesk" in decision.message


def test_registering_with_a_temporary_access_pass_is_allowed_anywhere():
    decision = sign_in(trusted=False, managed=False, action="register", app=None, satisfied=TAP)
    assert decision.allowed


def test_registering_at_a_trusted_location_needs_no_pass():
    assert sign_in(trusted=True, managed=False, action="register", app=None).allowed


def test_default_file_survives_a_round_trip_in_both_formats():
    policies = default_policies()
    assert load(dump(policies, "yaml"), "yaml") == policies
    assert load(dump(policies, "toml"), "toml") == policies
