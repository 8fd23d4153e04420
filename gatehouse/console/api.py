"""The admin API under /api/v1/admin: locations, devices, apps, policies, helpdesk actions,
API tokens, What-If and the audit trail. Bearer-token authentication (`gatehouse tokens
create`), administrators only; every change is audited with its actor, before and after."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Body, Router, Schema, Status
from ninja.security import HttpBearer

from gatehouse import durations
from gatehouse.access import devices, locations, policies, policyfile, protected_apps, whatif
from gatehouse.access.models import ManagedDevice, NamedLocation, ProtectedApp
from gatehouse.audit.models import AuditEvent
from gatehouse.authenticator import fraud
from gatehouse.console import tokens
from gatehouse.console.models import ApiToken
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.models import User
from gatehouse.methods import tap
from gatehouse.signin import lockout, sessions


class AdminToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        return tokens.authenticate(token, request.client.ip)


router = Router(tags=["admin"], auth=AdminToken())


class ErrorOut(Schema):
    error: str
    message: str


class LocationIn(Schema):
    name: str
    trusted: bool = False
    ranges: list[str]


class LocationOut(LocationIn):
    id: int


class DeviceIn(Schema):
    fingerprint: str
    name: str
    owner: str | None = None
    compliant: bool = True


class DeviceOut(DeviceIn):
    id: int


class WhatIfIn(Schema):
    user: str
    ip: str
    device: str = "personal"
    app: str = ""
    action: Literal["signin", "register"] = "signin"
    client_type: Literal["browser", "modern", "legacy"] = "browser"


class AuditOut(Schema):
    id: int
    time: Any
    actor: str
    action: str
    target: str
    details: dict
    hash: str


def _actor(request: HttpRequest) -> str:
    return f"api:{request.auth.username}"


def _invalid(exc: Exception) -> Status:
    return Status(400, {"error": "invalid", "message": str(exc)})


REFUSED = (locations.LocationError, devices.DeviceError, protected_apps.AppError)


def _saved(request: HttpRequest, status: int, kind: ModuleType, body: Schema, **item_id) -> Status:
    """Add (no `item_id`) or replace a location, device or app through its module's `save`,
    answered as `status` with the saved thing, or 400 with why it was refused."""
    try:
        saved = kind.save(_actor(request), **body.dict(), **item_id)
    except REFUSED as exc:
        return _invalid(exc)
    return Status(status, kind.as_dict(saved))


# --- named locations ----------------------------------------------------------------------


@router.get("/locations", response=list[LocationOut], summary="Named locations")
def list_locations(request: HttpRequest):
    return [locations.as_dict(loc) for loc in NamedLocation.objects.all()]


@router.post("/locations", response={201: LocationOut, 400: ErrorOut}, summary="Add a location")
def create_location(request: HttpRequest, body: LocationIn):
    return _saved(request, 201, locations, body)


@router.get("/locations/{location_id}", response=LocationOut, summary="One location")
def get_location(request: HttpRequest, location_id: int):
    return locations.as_dict(get_object_or_404(NamedLocation, id=location_id))


@router.put(
    "/locations/{location_id}", response={200: LocationOut, 400: ErrorOut}, summary="Replace"
)
def update_location(request: HttpRequest, location_id: int, body: LocationIn):
    get_object_or_404(NamedLocation, id=location_id)
    return _saved(request, 200, locations, body, location_id=location_id)


@router.delete("/locations/{location_id}", response={204: None}, summary="Remove a location")
def delete_location(request: HttpRequest, location_id: int):
    locations.delete(_actor(request), get_object_or_404(NamedLocation, id=location_id))
    return Status(204, None)


# --- managed devices ----------------------------------------------------------------------


@router.get("/devices", response=list[DeviceOut], summary="Managed devices")
def list_devices(request: HttpRequest):
    return [devices.as_dict(d) for d in ManagedDevice.objects.select_related("owner")]


@router.post("/devices", response={201: DeviceOut, 400: ErrorOut}, summary="Register a device")
def create_device(request: HttpRequest, body: DeviceIn):
    return _saved(request, 201, devices, body)


@router.get("/devices/{device_id}", response=DeviceOut, summary="One device")
def get_device(request: HttpRequest, device_id: int):
    return devices.as_dict(get_object_or_404(ManagedDevice, id=device_id))


@router.put("/devices/{device_id}", response={200: DeviceOut, 400: ErrorOut}, summary="Replace")
def update_device(request: HttpRequest, device_id: int, body: DeviceIn):
    get_object_or_404(ManagedDevice, id=device_id)
    return _saved(request, 200, devices, body, device_id=device_id)


@router.delete("/devices/{device_id}", response={204: None}, summary="Remove a device")
def delete_device(request: HttpRequest, device_id: int):
    devices.delete(_actor(request), get_object_or_404(ManagedDevice, id=device_id))
    return Status(204, None)


# --- protected apps -----------------------------------------------------------------------


class AppIn(Schema):
    name: str
    kind: Literal["forward_auth", "oidc"]
    hosts: list[str] = []
    redirect_uris: list[str] = []
    first_party: bool = True
    confidential: bool = False
    native: bool = False


class AppOut(AppIn):
    id: int


@router.get("/apps", response=list[AppOut], summary="Protected apps")
def list_apps(request: HttpRequest):
    return [protected_apps.as_dict(app) for app in ProtectedApp.objects.all()]


@router.post("/apps", response={201: AppOut, 400: ErrorOut}, summary="Add an app")
def create_app(request: HttpRequest, body: AppIn):
    return _saved(request, 201, protected_apps, body)


@router.get("/apps/{app_id}", response=AppOut, summary="One app")
def get_app(request: HttpRequest, app_id: int):
    return protected_apps.as_dict(get_object_or_404(ProtectedApp, id=app_id))


@router.put("/apps/{app_id}", response={200: AppOut, 400: ErrorOut}, summary="Replace an app")
def update_app(request: HttpRequest, app_id: int, body: AppIn):
    get_object_or_404(ProtectedApp, id=app_id)
    return _saved(request, 200, protected_apps, body, app_id=app_id)


@router.delete("/apps/{app_id}", response={204: None}, summary="Remove an app")
def delete_app(request: HttpRequest, app_id: int):
    protected_apps.delete(_actor(request), get_object_or_404(ProtectedApp, id=app_id))
    return Status(204, None)


# --- policies -----------------------------------------------------------------------------

POLICY_BODY = Body(..., description="A policy as documented in docs/policies.md")


@router.get("/policies", response=list[dict], summary="Policies, in order")
def list_policies(request: HttpRequest):
    return [policyfile.policy_to_dict(p) for p in policies.stored()]


@router.post("/policies", response={201: dict, 400: ErrorOut, 409: ErrorOut}, summary="Add")
def create_policy(request: HttpRequest, document: dict[str, Any] = POLICY_BODY):
    try:
        policy = policyfile.policy_from_dict(document)
    except policyfile.PolicyFileError as exc:
        return _invalid(exc)
    if policies.exists(policy.id):
        return Status(409, {"error": "exists", "message": f"policy '{policy.id}' exists"})
    policies.save(policy, _actor(request))
    return Status(201, policyfile.policy_to_dict(policy))


@router.get("/policies/{policy_id}", response={200: dict, 404: ErrorOut}, summary="One policy")
def get_policy(request: HttpRequest, policy_id: str):
    try:
        return Status(200, policyfile.policy_to_dict(policies.get(policy_id)))
    except policies.PolicyNotFound:
        return Status(404, {"error": "not_found", "message": f"no policy '{policy_id}'"})


@router.put(
    "/policies/{policy_id}", response={200: dict, 400: ErrorOut, 404: ErrorOut}, summary="Replace"
)
def update_policy(request: HttpRequest, policy_id: str, document: dict[str, Any] = POLICY_BODY):
    if not policies.exists(policy_id):
        return Status(404, {"error": "not_found", "message": f"no policy '{policy_id}'"})
    try:
        policy = policyfile.policy_from_dict({**document, "id": policy_id})
    except policyfile.PolicyFileError as exc:
        return _invalid(exc)
    policies.save(policy, _actor(request))
    return Status(200, policyfile.policy_to_dict(policy))


@router.delete("/policies/{policy_id}", response={204: None, 404: ErrorOut}, summary="Remove")
def delete_policy(request: HttpRequest, policy_id: str):
    try:
        policies.delete(policy_id, _actor(request))
    except policies.PolicyNotFound:
        return Status(404, {"error": "not_found", "message": f"no policy '{policy_id}'"})
    return Status(204, None)


# --- helpdesk: Temporary Access Passes and unlocking -----------------------------------


class PassIn(Schema):
    lifetime: str = "1h"
    one_time: bool = False


class PassOut(Schema):
    user: str
    code: str
    expires_at: datetime
    one_time: bool


def _user_or_404(username: str) -> User:
    return get_object_or_404(User, username=normalise_username(username))


@router.post(
    "/users/{username}/tap",
    response={201: PassOut, 400: ErrorOut},
    summary="Issue a Temporary Access Pass (replaces any other; shown only now)",
)
def issue_pass(request: HttpRequest, username: str, body: PassIn):
    user = _user_or_404(username)
    try:
        lifetime = timedelta(seconds=durations.parse(body.lifetime))
        issued = tap.issue(user, _actor(request), request.auth, lifetime, body.one_time)
    except (ValueError, tap.PassError) as exc:
        return _invalid(exc)
    return Status(
        201,
        {
            "user": user.username,
            "code": issued.code,
            "expires_at": issued.expires_at,
            "one_time": issued.one_time,
        },
    )


@router.delete(
    "/users/{username}/tap", response={204: None, 404: ErrorOut}, summary="Revoke a pass"
)
def revoke_pass(request: HttpRequest, username: str):
    if not tap.revoke(_user_or_404(username), _actor(request)):
        return Status(404, {"error": "not_found", "message": "this user has no pass"})
    return Status(204, None)


@router.post("/users/{username}/unlock", response={204: None}, summary="Lift lockouts")
def unlock_user(request: HttpRequest, username: str):
    user = _user_or_404(username)
    lockout.unlock(_actor(request), user)
    return Status(204, None)


class FraudBlockOut(Schema):
    user: str
    reported_at: datetime
    until: datetime


NOT_BLOCKED = {"error": "not_found", "message": "this user is not blocked"}


@router.get(
    "/users/{username}/fraud-block",
    response={200: FraudBlockOut, 404: ErrorOut},
    summary="The user's block after they reported a push as not theirs",
)
def fraud_block(request: HttpRequest, username: str):
    user = _user_or_404(username)
    block = fraud.current_block(user)
    if block is None:
        return Status(404, NOT_BLOCKED)
    return Status(
        200, {"user": user.username, "reported_at": block.reported_at, "until": block.until}
    )


@router.post(
    "/users/{username}/fraud-block/lift",
    response={204: None, 404: ErrorOut},
    summary="Lift the block after a reported push (docs/authenticator.md)",
)
def lift_fraud_block(request: HttpRequest, username: str):
    if not fraud.lift(_user_or_404(username), _actor(request)):
        return Status(404, NOT_BLOCKED)
    return Status(204, None)


# --- admin API tokens ----------------------------------------------------------------------


class TokenIn(Schema):
    name: str
    user: str | None = None
    lifetime: str = "90d"


class TokenOut(Schema):
    id: int
    name: str
    user: str
    state: Literal["active", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used: datetime | None
    last_used_ip: str | None


class NewTokenOut(TokenOut):
    token: str


@router.get("/tokens", response=list[TokenOut], summary="Admin API tokens")
def list_tokens(request: HttpRequest, all: bool = False):
    """The active tokens, oldest first; `all=true` adds the expired and revoked ones."""
    return [tokens.as_dict(record) for record in tokens.listed(include_ended=all)]


@router.post(
    "/tokens",
    response={201: NewTokenOut, 400: ErrorOut},
    summary="Create an admin API token (for yourself unless `user` names another admin)",
)
def create_token(request: HttpRequest, body: TokenIn):
    """`lifetime` 1h to 365d (default 90d). The token is in this answer only."""
    try:
        issued = tokens.issue(
            body.user or request.auth.username,
            body.name,
            _actor(request),
            durations.parse(body.lifetime),
        )
    except (ValueError, tokens.TokenError) as exc:
        return _invalid(exc)
    return Status(201, {**tokens.as_dict(issued.record), "token": issued.token})


@router.delete(
    "/tokens/{token_id}",
    response={204: None, 404: ErrorOut, 409: ErrorOut},
    summary="Revoke a token now",
)
def revoke_token(request: HttpRequest, token_id: int):
    get_object_or_404(ApiToken, id=token_id)
    try:
        tokens.revoke(token_id, _actor(request))
    except tokens.TokenError as exc:
        return Status(409, {"error": "revoked", "message": str(exc)})
    return Status(204, None)


# --- sessions -------------------------------------------------------------------------------


class EndedOut(Schema):
    ended: int


@router.delete(
    "/users/{username}/sessions",
    response=EndedOut,
    summary="Sign a user out everywhere: end every session, and the apps' tokens with them",
)
def end_user_sessions(request: HttpRequest, username: str):
    return {"ended": sessions.end_by_admin(_actor(request), _user_or_404(username))}


@router.delete(
    "/sessions", response=EndedOut, summary="Sign everyone out: end every session of every user"
)
def end_all_sessions(request: HttpRequest):
    return {"ended": sessions.end_by_admin(_actor(request))}


# --- What-If and audit --------------------------------------------------------------------


@router.post("/whatif", response={200: dict, 400: ErrorOut}, summary="How would a sign-in go?")
def what_if(request: HttpRequest, body: WhatIfIn):
    try:
        assessment = whatif.what_if(
            body.user, body.ip, body.device, body.app, body.action, body.client_type
        )
    except whatif.WhatIfError as exc:
        return _invalid(exc)
    return Status(200, whatif.as_dict(assessment))


@router.get("/audit", response=list[AuditOut], summary="The newest audit events")
def audit_events(request: HttpRequest, limit: int = 100):
    return list(AuditEvent.objects.order_by("-id")[: max(1, min(limit, 1000))])
