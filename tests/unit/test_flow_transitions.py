"""The sign-in flow's transition table: in every status, exactly the events the design allows
are handled, and every other one is refused as `wrong_state` before anything is touched."""

from __future__ import annotations

import pytest

from gatehouse.signin import flow as signin_flow
from gatehouse.signin.client import ClientContext
from gatehouse.signin.flowstate import (
    Event,
    FlowState,
    MovedOn,
    Nudge,
    Refused,
    Status,
    Step,
    Way,
)
from gatehouse.signin.models import SignInFlow

ALLOWED = {
    Status.STARTED: {Event.DECIDE},
    Status.MFA_REQUIRED: {
        Event.VERIFY,
        Event.PUSH,
        Event.AUTO_PUSH,
        Event.COLLECT_PUSH,
        Event.CANCEL,
    },
    Status.REGISTRATION_NUDGE: {Event.REGISTER, Event.SNOOZE, Event.CANCEL},
    Status.REGISTRATION_REQUIRED: {Event.CANCEL},
    Status.AUTHENTICATED: set(),
    Status.BLOCKED: set(),
}
CLIENT = ClientContext("203.0.113.7", "127.0.0.1", None, "test")


def test_the_table_is_the_design():
    assert set(ALLOWED) == set(Status)
    table = {(status, event) for status, events in ALLOWED.items() for event in events}
    assert set(signin_flow.TRANSITIONS) == table


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("event", list(Event))
def test_every_other_event_is_refused_as_the_wrong_state(status, event):
    if event in ALLOWED[status]:
        pytest.skip("allowed: exercised by the integration tests")
    flow = SignInFlow(id="f", status=status, data=FlowState(client=CLIENT).dump())
    outcome = signin_flow.handle(flow, event)
    assert outcome == Refused("wrong_state", flow)
    assert flow.status == status  # untouched


def test_a_nudge_answer_that_is_neither_action_is_refused():
    flow = SignInFlow(id="f", status=Status.REGISTRATION_NUDGE, data=FlowState(CLIENT).dump())
    assert isinstance(signin_flow.nudge(flow, "later"), Refused)


def test_a_state_that_is_not_one_is_refused_not_a_crash():
    flow = SignInFlow(id="f", status=Status.MFA_REQUIRED, data={"amr": "pwd"})
    assert signin_flow.handle(flow, Event.VERIFY) == Refused("wrong_state", flow)


def test_the_state_survives_its_json():
    from datetime import date

    state = FlowState(
        client=CLIENT,
        client_type="modern",
        satisfied=frozenset({"mfa"}),
        amr=("pwd", "otp", "mfa"),
        steps=(Step("password", "success"), Step("totp", "failure")),
        policies=({"policy_id": "p"},),
        requirement="multi_factor",
        event=7,
        message="m",
        methods=(Way("totp", 3, "Phone", "Authenticator app", True),),
        push="c",
        push_asked=True,
        then="register",
        nudge=Nudge(3, 2, 1, date(2030, 1, 2), False),
    )
    assert FlowState.load(state.dump()) == state


def test_typed_answers_carry_only_what_they_mean():
    flow = SignInFlow(id="f")
    assert not hasattr(MovedOn(flow), "error")
    assert Refused("invalid_code", attempts_left=3).attempts_left == 3
