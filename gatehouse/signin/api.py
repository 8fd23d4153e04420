"""Sign-in and session endpoints of the JSON API (DESIGN §5.3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from gatehouse.api_auth import session_auth
from gatehouse.hotpath import meta_header_reader
from gatehouse.signin import flow as signin_flow
from gatehouse.signin import frontdoor, longpoll, sessions, whoami
from gatehouse.signin.flowstate import Event
from gatehouse.signin.frontdoor import Arrival
from gatehouse.signin.models import SignInFlow, SSOSession

router = Router(tags=["sign-in"])
me_router = Router(tags=["me"], auth=session_auth)


class SignInIn(Schema):
    username: str
    password: str
    app: str = ""
    return_to: str = ""


class MethodOffer(Schema):
    method: str
    id: int | None
    name: str
    label: str
    default: bool


class FlowOut(Schema):
    flow: str
    status: str
    expires_at: datetime
    username: str | None = Field(None, description='Who is signing in (for "Not you?").')
    reason: str | None = None
    message: str | None = None
    return_to: str | None = None
    methods: list[MethodOffer] | None = None
    days_left: int | None = None
    snoozes_left: int | None = None
    snooze_days: int | None = Field(None, description="How long a snooze lasts, in days.")
    deadline: date | None = Field(None, description="The registration campaign's deadline.")
    can_register: bool | None = Field(
        None,
        description="At a nudge: whether registering is possible from here. If not, there is "
        "no register_url, and `snooze` continues until the deadline without using a snooze.",
    )
    register_url: str | None = Field(
        None,
        description="Where to register a second factor now: at a nudge where that is "
        "possible, a registration interrupt, or signed in with a Temporary Access Pass and no "
        "method yet.",
    )
    password_change_url: str | None = None
    push: dict | None = None


class VerifyIn(Schema):
    method: str
    code: str


class NudgeIn(Schema):
    action: str


class CodeErrorOut(Schema):
    error: str
    message: str
    attempts_left: int | None = None


class ErrorOut(Schema):
    error: str
    message: str | None = None


class ThrottledOut(Schema):
    error: str
    retry_after: int


class SessionOut(Schema):
    id: str
    created_at: datetime
    last_seen: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str
    current: bool


# OpenAPI links: the next steps of a sign-in are called on the flow it started.
FLOW_STEPS = {
    "state": "gatehouse_signin_api_signin_state",
    "verify": "gatehouse_signin_api_signin_verify",
    "push": "gatehouse_signin_api_signin_push",
    "nudge": "gatehouse_signin_api_signin_nudge",
    "collect": "gatehouse_signin_api_signin_push_collect",
}
FLOW_LINKS = {
    step: {"operationId": operation, "parameters": {"flow_id": "$response.body#/flow"}}
    for step, operation in FLOW_STEPS.items()
}


@router.post(
    "/signin",
    response={200: FlowOut, 401: ErrorOut, 429: ThrottledOut, 503: ErrorOut},
    summary="Start a sign-in with a username and password",
    exclude_none=True,
    openapi_extra={"responses": {"200": {"links": FLOW_LINKS}}},
)
def signin(request: HttpRequest, response: HttpResponse, body: SignInIn):
    arrival = Arrival(request.client, body.app, return_to=body.return_to)
    outcome = frontdoor.sign_in(arrival, body.username, body.password, request.sso)
    return _answer(outcome, response)


# How each refusal of the flow is answered over HTTP.
HTTP_STATUS = {
    "invalid_credentials": 401,
    "directory_unavailable": 503,
    "busy": 503,
    "invalid_code": 400,
    "unknown_method": 400,
    "factor_locked": 403,
    "wrong_state": 409,
    "push_denied": 403,
    "fraud_reported": 403,
    "too_many_pending": 429,
    "too_many_pushes": 429,
}
UNKNOWN_FLOW = {"error": "unknown_flow", "message": "This sign-in has expired; start again."}


def _answer(outcome: signin_flow.Outcome, response: HttpResponse) -> Status:
    """One translation of a flow outcome into HTTP, for every sign-in endpoint."""
    if isinstance(outcome, signin_flow.Refused):
        if outcome.error == "throttled":
            response["Retry-After"] = str(outcome.retry_after)
            return Status(429, {"error": "throttled", "retry_after": outcome.retry_after})
        body: dict[str, str | int] = {
            "error": outcome.error,
            "message": signin_flow.explain(outcome),
        }
        if outcome.retry_after is not None:
            response["Retry-After"] = str(outcome.retry_after)
        if outcome.attempts_left is not None:
            body["attempts_left"] = outcome.attempts_left
        return Status(HTTP_STATUS.get(outcome.error, 409), body)
    if isinstance(outcome, signin_flow.SignedIn):
        sessions.set_cookie(response, outcome.new_session)
    return Status(200, signin_flow.describe(outcome.flow))


FLOW_STEP_RESPONSES = {
    200: FlowOut,
    400: CodeErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    429: ThrottledOut,
}


@router.post(
    "/signin/{flow_id}/verify",
    response=FLOW_STEP_RESPONSES,
    summary="Prove a second factor: totp, recovery_code or tap",
    exclude_none=True,
)
def signin_verify(request: HttpRequest, response: HttpResponse, flow_id: str, body: VerifyIn):
    return _on_flow(
        flow_id,
        response,
        lambda flow: frontdoor.go_on(flow, Event.VERIFY, request.sso, body.method, body.code),
    )


@router.post(
    "/signin/{flow_id}/nudge",
    response=FLOW_STEP_RESPONSES,
    summary="At a registration nudge: register now, or snooze",
    exclude_none=True,
)
def signin_nudge(request: HttpRequest, response: HttpResponse, flow_id: str, body: NudgeIn):
    return _on_flow(flow_id, response, lambda flow: frontdoor.nudge(flow, body.action, request.sso))


def _on_flow(
    flow_id: str,
    response: HttpResponse,
    step: Callable[[SignInFlow], signin_flow.Outcome],
) -> Status:
    flow = signin_flow.get(flow_id)
    if flow is None:
        return Status(404, UNKNOWN_FLOW)
    return _answer(step(flow), response)


@router.get(
    "/signin/{flow_id}",
    response={200: FlowOut, 404: ErrorOut},
    summary="A sign-in's state (long-poll with ?wait=N)",
    exclude_none=True,
)
def signin_state(
    request: HttpRequest,
    response: HttpResponse,
    flow_id: str,
    wait: int = Query(
        0,
        ge=0,
        description=f"Seconds (at most {longpoll.MAX_WAIT}) for the server to hold the answer "
        "while the sign-in waits for the user's phone: it comes within a second of the phone's "
        "answer, whichever instance took it, or with the same state when the time is up.",
    ),
):
    """The flow's state; reading it changes nothing. While a push waits for the phone, the
    server holds the answer for `wait` in front of this view (gatehouse/signin/longpoll.py),
    on the WAITS header set here, which it takes off. Once `push.state` says the phone has
    answered, the client takes the answer with `POST /signin/{flow}/push/collect`."""
    flow = signin_flow.get(flow_id)
    if flow is None:
        return Status(404, UNKNOWN_FLOW)
    if signin_flow.waits_for_phone(flow):
        response[longpoll.WAITS] = "push"
    return Status(200, signin_flow.describe(flow))


@router.post(
    "/signin/{flow_id}/push/collect",
    response=FLOW_STEP_RESPONSES,
    summary="Take the phone's answer to the push: approved (signed in), denied, or a new "
    "request needed",
    exclude_none=True,
)
def signin_push_collect(request: HttpRequest, response: HttpResponse, flow_id: str):
    """What the sign-in page does once the state's `push.state` is no longer `pending`. An
    approval counts once: it moves the flow on (and sets the session cookie when signed in);
    a denial blocks it; a wrong number or an expired request leaves it waiting for a new push,
    with a message saying so. Nothing answered yet: the state, unchanged."""
    return _on_flow(
        flow_id, response, lambda flow: frontdoor.go_on(flow, Event.COLLECT_PUSH, request.sso)
    )


class PushOut(Schema):
    challenge: str
    number: int
    expires_at: datetime
    notified: bool


@router.post(
    "/signin/{flow_id}/push",
    response={200: PushOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    summary="Send an approval request to the user's paired phones",
)
def signin_push(request: HttpRequest, flow_id: str):
    flow = signin_flow.get(flow_id)
    if flow is None:
        return Status(404, UNKNOWN_FLOW)
    outcome = frontdoor.go_on(flow, Event.PUSH)
    if not isinstance(outcome, signin_flow.PushStarted):
        refused = outcome if isinstance(outcome, signin_flow.Refused) else None
        error = refused.error if refused else "wrong_state"
        message = signin_flow.explain(refused or signin_flow.Refused(error))
        return Status(HTTP_STATUS.get(error, 409), {"error": error, "message": message})
    push = outcome.challenge
    return Status(
        200,
        {
            "challenge": push.id,
            "number": push.number,
            "expires_at": push.expires_at,
            "notified": push.notified,
        },
    )


class DeviceSeenOut(Schema):
    kind: Literal["managed", "personal"]
    why: str
    fingerprint: str | None = None
    device_id: int | None = None
    name: str | None = None


class WhoAmIOut(Schema):
    address: str | None = Field(description="The client address Gatehouse uses (null: unknown)")
    address_why: str
    locations: list[str] = Field(description="The named locations the address is in")
    trusted: bool = Field(description="Whether any of them is trusted")
    device: DeviceSeenOut
    device_why: str
    peer: str = Field(description="The address the connection came from")
    peer_trusted: bool = Field(description="Whether that is one of server.trusted_proxies")
    device_header: str = Field(description="The managed-device header (server.client_cert_header)")
    headers: dict[str, str | None] = Field(
        description="The forwarded headers as they arrived: X-Forwarded-For, the device header, "
        "Remote-User, -Groups, -Name and -Email (null: absent)"
    )
    probe: str | None = Field(None, description="The X-Gatehouse-Proxy-Check header sent")


@router.get(
    "/whoami",
    response=WhoAmIOut,
    summary="What Gatehouse sees of this request: address, location, trust, device and why",
)
def who_am_i(request: HttpRequest, response: HttpResponse):
    """No sign-in needed: it describes the caller's own request, as every sign-in from here
    would be judged (docs/proxies/ and `gatehouse proxy-check` use it to check a proxy)."""
    response["Cache-Control"] = "no-store"
    return whoami.seen(request.META.get("REMOTE_ADDR", ""), meta_header_reader(request.META))


@router.post("/signout", response={204: None}, summary="End the current session")
def signout(request: HttpRequest, response: HttpResponse):
    sessions.sign_out(request.sso, response)
    return Status(204, None)


@me_router.get("/sessions", response=list[SessionOut], summary="My active sessions")
def my_sessions(request: HttpRequest):
    return [_session_out(s, request.sso) for s in sessions.active_for(request.user)]


REAUTHENTICATE = {
    "error": "reauthentication_required",
    "message": "For your security, sign in again before ending your other sessions.",
}


class EndedOut(Schema):
    ended: int


@me_router.delete(
    "/sessions",
    response={200: EndedOut, 401: ErrorOut},
    summary="End all my other sessions (needs a sign-in in the last 10 minutes)",
)
def end_my_other_sessions(request: HttpRequest):
    if not sessions.recently_signed_in(request.sso):
        return Status(401, REAUTHENTICATE)
    ended = sessions.end_all("ended_by_user", user=request.user, keep=request.sso)
    return Status(200, {"ended": ended})


@me_router.delete(
    "/sessions/{session_id}",
    response={204: None, 401: ErrorOut, 404: ErrorOut},
    summary="End one of my sessions (another: needs a sign-in in the last 10 minutes)",
)
def end_my_session(request: HttpRequest, response: HttpResponse, session_id: str):
    ended = sessions.end_mine(request.sso, session_id)
    if ended is sessions.EndMine.UNKNOWN:
        return Status(404, {"error": "unknown_session"})
    if ended is sessions.EndMine.REAUTHENTICATE:
        return Status(401, REAUTHENTICATE)
    if ended is sessions.EndMine.ENDED_CURRENT:
        sessions.clear_cookie(response)
    return Status(204, None)


def _session_out(session: SSOSession, current: SSOSession) -> dict:
    return {
        "id": session.id,
        "created_at": session.created_at,
        "last_seen": session.last_seen,
        "expires_at": session.expires_at,
        "ip": session.ip,
        "user_agent": session.user_agent,
        "current": session.id == current.id,
    }
