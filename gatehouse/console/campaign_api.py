"""The admin API for the registration campaign, /api/v1/admin/campaign: read, start or
replace, end. Same bearer tokens as the rest of the admin API; every change is audited.

Its operations keep the OpenAPI operationIds they had before they moved here from
gatehouse.enrollment.api (the schema is a contract)."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from ninja import Router, Schema, Status

from gatehouse.console.api import AdminToken, ErrorOut, _actor, _invalid
from gatehouse.enrollment import campaign as campaigns

router = Router(tags=["admin"], auth=AdminToken())
NOT_RUNNING = {"error": "not_found", "message": "no registration campaign is running"}


class CampaignIn(Schema):
    deadline: date
    snooze_days: int = 1
    snoozes: int = 3
    groups: list[str] = []
    exclude: list[str] = []


class CampaignOut(CampaignIn):
    id: int
    started_at: str
    started_by: str


@router.get(
    "",
    response={200: CampaignOut, 404: ErrorOut},
    summary="The running campaign",
    operation_id="gatehouse_enrollment_api_get_campaign",
)
def get_campaign(request: HttpRequest):
    campaign = campaigns.current()
    if campaign is None:
        return Status(404, NOT_RUNNING)
    return Status(200, campaigns.as_dict(campaign))


@router.put(
    "",
    response={200: CampaignOut, 400: ErrorOut},
    summary="Start a campaign, or replace the running one's settings",
    operation_id="gatehouse_enrollment_api_put_campaign",
)
def put_campaign(request: HttpRequest, body: CampaignIn):
    try:
        campaign = campaigns.start_campaign(
            body.deadline,
            body.snooze_days,
            body.snoozes,
            body.groups,
            body.exclude,
            actor=_actor(request),
        )
    except campaigns.CampaignError as exc:
        return _invalid(exc)
    return Status(200, campaigns.as_dict(campaign))


@router.delete(
    "",
    response={204: None, 404: ErrorOut},
    summary="End the running campaign",
    operation_id="gatehouse_enrollment_api_delete_campaign",
)
def delete_campaign(request: HttpRequest):
    if campaigns.end_campaign(_actor(request)) is None:
        return Status(404, NOT_RUNNING)
    return Status(204, None)
