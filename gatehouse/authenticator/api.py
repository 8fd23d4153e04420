"""The authenticator's JSON API (docs/authenticator.md): the phone's endpoints under
/api/v1/authenticator (pairing with a one-time token, then requests signed by the device key).
Pairing links are made in Security info (gatehouse.enrollment.pairing_api); lifting a fraud
block is in the admin API (gatehouse.console.api)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.security import APIKeyHeader

from gatehouse.authenticator import challenges, devices, fraud, pairing, webpush
from gatehouse.methods.base import Refused


class DeviceSignature(APIKeyHeader):
    """`Authorization: Gatehouse-Device id=…, ts=…, sig=…`: the request signed by a paired
    phone's key (gatehouse.authenticator.protocol)."""

    param_name = "Authorization"

    def authenticate(self, request: HttpRequest, key: str | None):
        if not key:
            return None
        return devices.authenticate(
            key, request.method or "", request.get_full_path(), request.body, time.time()
        )


device_router = Router(tags=["authenticator app"])
device_auth = DeviceSignature()


class ErrorOut(Schema):
    error: str
    message: str


class PairIn(Schema):
    token: str
    public_key: dict[str, Any] | str
    name: str = ""
    push_subscription: dict[str, Any] | None = None


class DeviceOut(Schema):
    device_id: str
    method_id: int
    name: str
    user: str
    display_name: str
    notifications: bool
    vapid_public_key: str


class PendingOut(Schema):
    id: str
    app: str
    ip: str | None
    location: str
    time: datetime
    expires_at: datetime
    report_warning: str


class AnswerIn(Schema):
    decision: Literal["approve", "deny", "report"]
    number: int | None = None
    time: int
    signature: str


class AnswerOut(Schema):
    status: str
    message: str = ""


class SubscriptionIn(Schema):
    push_subscription: dict[str, Any] | None


def _error(exc: challenges.AnswerRefused | Refused) -> Status:
    return Status(exc.status, {"error": exc.code, "message": exc.message})


# --- the phone ------------------------------------------------------------------------------


class PushKeyOut(Schema):
    vapid_public_key: str


@device_router.get(
    "/vapid-public-key",
    response=PushKeyOut,
    summary="The applicationServerKey to subscribe to Web Push with (public)",
)
def vapid_public_key(request: HttpRequest):
    return {"vapid_public_key": webpush.public_key()}


@device_router.post(
    "/pair",
    response={201: DeviceOut, 400: ErrorOut, 409: ErrorOut, 410: ErrorOut},
    summary="Pair a phone with a one-time pairing token",
)
def pair(request: HttpRequest, body: PairIn):
    try:
        device = pairing.pair(body.token, body.public_key, body.name, body.push_subscription)
    except Refused as exc:
        return _error(exc)
    return Status(201, devices.describe(device))


@device_router.get(
    "/device", response=DeviceOut, auth=device_auth, summary="This phone, as the server knows it"
)
def this_device(request: HttpRequest):
    return devices.describe(request.auth)


@device_router.put(
    "/device/push-subscription",
    response={200: DeviceOut, 400: ErrorOut},
    auth=device_auth,
    summary="Set or clear this phone's Web Push subscription",
)
def set_subscription(request: HttpRequest, body: SubscriptionIn):
    try:
        devices.set_push_subscription(request.auth, body.push_subscription)
    except webpush.SubscriptionError as exc:
        return Status(400, {"error": "invalid_subscription", "message": str(exc)})
    return Status(200, devices.describe(request.auth))


@device_router.get(
    "/pending",
    response=list[PendingOut],
    auth=device_auth,
    summary="Sign-ins waiting for this user's approval (without their numbers)",
)
def pending(request: HttpRequest):
    return challenges.pending(request.auth)


@device_router.post(
    "/challenges/{challenge_id}/answer",
    response={
        200: AnswerOut,
        400: ErrorOut,
        401: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        410: ErrorOut,
    },
    auth=device_auth,
    summary="Approve (with the number shown), deny, or deny and report a sign-in",
)
def answer(request: HttpRequest, challenge_id: str, body: AnswerIn):
    try:
        status = challenges.answer(
            request.auth,
            challenge_id,
            number=body.number,
            decision=body.decision,
            time_signed=body.time,
            signature=body.signature,
        )
    except challenges.AnswerRefused as exc:
        return _error(exc)
    message = fraud.reported() if body.decision == "report" else ""
    return Status(200, {"status": status, "message": message})
