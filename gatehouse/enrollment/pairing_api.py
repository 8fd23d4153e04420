"""Pairing links in Security info under /api/v1/me/authenticator (docs/authenticator.md): a
one-time link to pair a phone with the Gatehouse Authenticator, and whether it has paired. Its
operations keep the OpenAPI operationIds they had in gatehouse.authenticator.api (the schema is
a contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status

from gatehouse.api_auth import registration_auth
from gatehouse.authenticator import pairing
from gatehouse.enrollment import security_info
from gatehouse.enrollment.portal_api import ErrorOut, MethodOut, refused
from gatehouse.methods import registry

router = Router(tags=["security info"], auth=registration_auth)


class PairingOut(Schema):
    id: int
    url: str
    qr_svg: str
    expires_at: datetime


class PairingStatusOut(Schema):
    status: Literal["waiting", "paired", "expired"]
    method: MethodOut | None = None


@router.post(
    "/pairing",
    operation_id="gatehouse_authenticator_api_new_pairing",
    response={201: PairingOut, 401: ErrorOut, 403: ErrorOut, 409: ErrorOut},
    summary="A one-time link (and QR code) to pair a phone, valid 10 minutes",
)
def new_pairing(request: HttpRequest):
    try:
        security_info.may_change(request.sso, request.client)
        link = pairing.new_link(request.sso)
    except security_info.Refused as exc:
        return refused(exc)
    return Status(
        201, {"id": link.id, "url": link.url, "qr_svg": link.qr_svg, "expires_at": link.expires_at}
    )


@router.get(
    "/pairing/{link_id}",
    operation_id="gatehouse_authenticator_api_pairing_status",
    response={200: PairingStatusOut, 404: ErrorOut},
    summary="Whether the phone has paired yet",
    exclude_none=True,
)
def pairing_status(request: HttpRequest, link_id: int):
    try:
        status, method = security_info.pairing_status(request.sso, link_id)
    except security_info.Refused as exc:
        return refused(exc)
    return Status(200, {"status": status, "method": registry.describe(method) if method else None})
