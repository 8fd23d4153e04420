"""Security info in the JSON API (DESIGN §5.3): /api/v1/me/methods, recovery codes, sign-ins."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status

from gatehouse.api_auth import registration_auth
from gatehouse.enrollment import security_info
from gatehouse.methods import registry
from gatehouse.signin.models import SignInEvent

router = Router(tags=["security info"], auth=registration_auth)


class ErrorOut(Schema):
    error: str
    message: str


class MethodOut(Schema):
    id: int
    kind: str
    label: str
    name: str
    default: bool
    created_at: datetime
    last_used_at: datetime | None
    remaining: int | None = None


class TotpIn(Schema):
    name: str = ""


class TotpEnrolmentOut(Schema):
    id: int
    secret: str
    otpauth_uri: str
    qr_svg: str


class ConfirmIn(Schema):
    code: str


class MethodChangeIn(Schema):
    name: str | None = None
    default: bool | None = None


class CodesOut(Schema):
    codes: list[str]


class SignInOut(Schema):
    time: datetime
    app: str
    ip: str | None
    locations: list[str]
    trusted: bool
    result: str
    reason: str


REFUSALS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


def refused(exc: security_info.Refused) -> Status:
    return Status(exc.status, {"error": exc.code, "message": exc.message})


@router.get("/methods", response=list[MethodOut], summary="My sign-in methods", exclude_none=True)
def my_methods(request: HttpRequest):
    return [registry.describe(m) for m in registry.registered(request.sso.user)]


@router.post("/methods/totp", response={201: TotpEnrolmentOut, **REFUSALS}, summary="Add an app")
def add_totp(request: HttpRequest, body: TotpIn):
    try:
        enrolment = security_info.begin(request.sso, request.client, "totp", body.name)
    except security_info.Refused as exc:
        return refused(exc)
    return Status(201, {"id": enrolment.method.id, **enrolment.show})


@router.post(
    "/methods/totp/{method_id}/confirm",
    response={200: MethodOut, **REFUSALS},
    summary="Activate an app with a current code",
    exclude_none=True,
)
def confirm_totp(request: HttpRequest, method_id: int, body: ConfirmIn):
    try:
        if not security_info.confirm(request.sso, request.client, method_id, body.code):
            return Status(400, {"error": "invalid_code", "message": "That code is not right."})
    except security_info.Refused as exc:
        return refused(exc)
    return Status(200, registry.describe(security_info.method_of(request.sso, method_id)))


@router.patch(
    "/methods/{method_id}",
    response={200: MethodOut, **REFUSALS},
    summary="Rename a method or make it the default",
    exclude_none=True,
)
def change_method(request: HttpRequest, method_id: int, body: MethodChangeIn):
    try:
        method = security_info.method_of(request.sso, method_id)
        if body.name is not None:
            method = security_info.rename(request.sso, method_id, body.name)
        if body.default:
            method = security_info.make_default(request.sso, method_id)
    except security_info.Refused as exc:
        return refused(exc)
    return Status(200, registry.describe(method))


@router.delete("/methods/{method_id}", response={204: None, **REFUSALS}, summary="Remove")
def remove_method(request: HttpRequest, method_id: int):
    try:
        security_info.remove(request.sso, request.client, method_id)
    except security_info.Refused as exc:
        return refused(exc)
    return Status(204, None)


@router.post("/recovery-codes", response={201: CodesOut, **REFUSALS}, summary="New recovery codes")
def new_recovery_codes(request: HttpRequest):
    try:
        enrolment = security_info.begin(request.sso, request.client, "recovery_codes")
    except security_info.Refused as exc:
        return refused(exc)
    return Status(201, enrolment.show)


@router.get("/sign-ins", response=list[SignInOut], summary="My recent sign-ins")
def my_sign_ins(request: HttpRequest):
    return SignInEvent.objects.filter(user=request.sso.user)[:50]
