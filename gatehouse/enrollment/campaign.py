"""The registration campaign (docs/registration.md): who must register a second factor by
when, and what a sign-in without one gets meanwhile — a nudge, a snooze, or no way round it.

Dates are calendar days in the server's time zone (UTC): the deadline is the first day on
which registration is required, so the day before it is the last with "1 day left"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from gatehouse.audit import trail
from gatehouse.directory import signals
from gatehouse.enrollment.models import Campaign, Snooze

NUDGE, SNOOZED = "registration_nudge", "snoozed"
REQUIRED, BLOCKED = "registration_required", "blocked"
MAX_SNOOZE_DAYS = 14
MAX_SNOOZES = 50


class CampaignError(ValueError):
    """Campaign settings refused; the message says which and what would be valid."""


@dataclass(frozen=True)
class RegistrationOutcome:
    """What a sign-in that needs a second factor gets when the user has none."""

    status: str  # "registration_nudge" | "snoozed" | "registration_required" | "blocked"
    reason: str  # a sign-in log reason code (docs/signin-log.md)
    days_left: int | None
    snoozes_left: int | None
    message: str


def current() -> Campaign | None:
    return Campaign.objects.filter(active=True).first()


def as_dict(campaign: Campaign) -> dict:
    return {
        "id": campaign.id,
        "deadline": campaign.deadline.isoformat(),
        "snooze_days": campaign.snooze_days,
        "snoozes": campaign.snoozes,
        "groups": list(campaign.groups),
        "exclude": list(campaign.exclude),
        "started_at": campaign.started_at.isoformat(),
        "started_by": campaign.started_by,
    }


def describe(campaign: Campaign, now: datetime | None = None) -> str:
    """One line for people, e.g. for `gatehouse campaign`."""
    scope = ", ".join(campaign.groups) if campaign.groups else "everyone"
    if campaign.exclude:
        scope += " except " + ", ".join(campaign.exclude)
    return (
        f"registration campaign: deadline {campaign.deadline.isoformat()} "
        f"({plural(max(days_left(campaign, now), 0), 'day')} left); "
        f"{plural(campaign.snoozes, 'snooze')} of {plural(campaign.snooze_days, 'day')} each; "
        f"for {scope}"
    )


def scoped_users(campaign: Campaign) -> QuerySet:
    """Active users the campaign applies to: in any of its groups (all users when it names
    none), and in none of its excluded groups."""
    users = get_user_model().objects.filter(is_active=True)
    if campaign.groups:
        users = users.filter(groups__name__in=campaign.groups)
    if campaign.exclude:
        users = users.exclude(groups__name__in=campaign.exclude)
    return users.distinct()


def in_scope(campaign: Campaign, user) -> bool:
    return scoped_users(campaign).filter(pk=user.pk).exists()


def days_left(campaign: Campaign, now: datetime | None = None) -> int:
    """Whole days until the deadline; 0 or less once it has come."""
    return (campaign.deadline - timezone.localdate(now or timezone.now())).days


def _validated(
    deadline: date,
    snooze_days: int,
    snoozes: int,
    groups: Iterable[str],
    exclude: Iterable[str],
    today: date,
) -> tuple[list[str], list[str]]:
    if deadline <= today:
        raise CampaignError(
            f"deadline {deadline.isoformat()} is not after today ({today.isoformat()}); without "
            "a campaign registration is already required"
        )
    if not 0 <= snooze_days <= MAX_SNOOZE_DAYS:
        raise CampaignError(f"snooze days must be from 0 to {MAX_SNOOZE_DAYS}, not {snooze_days}")
    if not 0 <= snoozes <= MAX_SNOOZES:
        raise CampaignError(f"snoozes must be from 0 to {MAX_SNOOZES}, not {snoozes}")
    names = sorted({g.strip() for g in groups if g.strip()})
    excluded = sorted({g.strip() for g in exclude if g.strip()})
    known = set(Group.objects.filter(name__in=names + excluded).values_list("name", flat=True))
    unknown = [name for name in names + excluded if name not in known]
    if unknown:
        raise CampaignError("no group named " + ", ".join(f"'{name}'" for name in unknown))
    if both := sorted(set(names) & set(excluded)):
        raise CampaignError("groups both included and excluded: " + ", ".join(both))
    return names, excluded


def start_campaign(
    deadline: date,
    snooze_days: int = 1,
    snoozes: int = 3,
    groups: Sequence[str] = (),
    exclude: Sequence[str] = (),
    actor: str = "system",
    now: datetime | None = None,
) -> Campaign:
    """Start a campaign, or replace the settings of the active one (snoozes already taken still
    count; a moved deadline gets its own reminders). Audited with before and after."""
    now = now or timezone.now()
    names, excluded = _validated(
        deadline, snooze_days, snoozes, groups, exclude, timezone.localdate(now)
    )
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(active=True).first()
        before = as_dict(campaign) if campaign else None
        if campaign is None:
            campaign = Campaign(started_at=now, started_by=actor)
        campaign.deadline = deadline
        campaign.snooze_days = snooze_days
        campaign.snoozes = snoozes
        campaign.groups = names
        campaign.exclude = excluded
        campaign.save()
        action = "campaign.update" if before else "campaign.start"
        trail.record(
            actor, action, f"campaign:{campaign.id}", before=before, after=as_dict(campaign)
        )
    return campaign


def end_campaign(actor: str, now: datetime | None = None) -> Campaign | None:
    """End the active campaign (None when there is none): registration is then required of
    everyone a policy asks for a second factor."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(active=True).first()
        if campaign is None:
            return None
        before = as_dict(campaign)
        campaign.active = False
        campaign.ended_at = now or timezone.now()
        campaign.save(update_fields=["active", "ended_at"])
        trail.record(actor, "campaign.end", f"campaign:{campaign.id}", before=before, after=None)
    return campaign


def follow_group_rename(sender, old: str, new: str, actor: str, **kwargs) -> None:
    """A directory renamed a group: the campaign's scope names the new name (audited)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(active=True).first()
        if campaign is None or old not in campaign.groups + campaign.exclude:
            return
        before = as_dict(campaign)
        campaign.groups = signals.renamed(campaign.groups, old, new)
        campaign.exclude = signals.renamed(campaign.exclude, old, new)
        campaign.save(update_fields=["groups", "exclude"])
        trail.record(
            actor,
            "campaign.update",
            f"campaign:{campaign.id}",
            before=before,
            after=as_dict(campaign),
        )


def _snoozes(campaign: Campaign, user) -> QuerySet:
    return Snooze.objects.filter(campaign=campaign, user=user)


def _running(user, now: datetime) -> tuple[Campaign, int] | None:
    """The campaign and its days left, when one applies to the user and its deadline is ahead."""
    campaign = current()
    if campaign is None or not in_scope(campaign, user):
        return None
    left = days_left(campaign, now)
    return (campaign, left) if left > 0 else None


def registration_outcome(user, trusted: bool, now: datetime | None = None) -> RegistrationOutcome:
    """For a sign-in that policies say needs a second factor, by a user who has none.

    Without a campaign for the user, or once its deadline has come or the snoozes are used up,
    registration is required: at a trusted location they register now, elsewhere the sign-in is
    blocked. Before that, they are nudged (anywhere), or let through while a snooze lasts."""
    now = now or timezone.now()
    running = _running(user, now)
    if running is not None:
        campaign, left = running
        taken = _snoozes(campaign, user)
        snoozes_left = max(campaign.snoozes - taken.count(), 0)
        when = day_text(campaign.deadline)
        if taken.filter(until__gt=now).exists():
            return RegistrationOutcome(
                SNOOZED,
                "registration_snoozed",
                left,
                snoozes_left,
                f"Reminder snoozed. Set up a second way to sign in before {when}.",
            )
        if snoozes_left:
            return RegistrationOutcome(
                NUDGE,
                NUDGE,
                left,
                snoozes_left,
                f"From {when} you will need a second way to sign in, such as an authenticator "
                f"app. {plural(left, 'day')} left: set it up now, or snooze this reminder "
                f"({plural(snoozes_left, 'snooze')} left).",
            )
    if trusted:
        return RegistrationOutcome(
            REQUIRED,
            REQUIRED,
            None,
            None,
            "You need to set up a second way to sign in before you can continue.",
        )
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    return RegistrationOutcome(
        BLOCKED,
        "mfa_registration_required",
        None,
        None,
        "This sign-in needs a second factor and you have not registered one. Register from a "
        f"computer at one of the organisation's sites, or contact {helpdesk}.",
    )


def snooze(user, now: datetime | None = None) -> bool:
    """Take one snooze for the user: True when this sign-in may go on with the password alone
    (also when a snooze is already in force, without using another), False when the user has
    none left, is not in the campaign, or its deadline has come."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the user's row so two simultaneous snoozes cannot both take the last one.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        running = _running(user, now)
        if running is None:
            return False
        campaign, _ = running
        taken = _snoozes(campaign, user)
        if taken.filter(until__gt=now).exists():
            return True
        if taken.count() >= campaign.snoozes:
            return False
        Snooze.objects.create(
            campaign=campaign, user=user, at=now, until=now + timedelta(days=campaign.snooze_days)
        )
    return True


def day_text(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
