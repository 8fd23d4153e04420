"""The registration campaign (docs/registration.md): who must register a second factor by
when, and what a sign-in without one gets meanwhile — a nudge, a snooze, or no way round it.

Dates are calendar days in the organisation's time zone (organisation.time_zone): the deadline
is the first day on which registration is required, so the day before it is the last with
"1 day left"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from gatehouse.audit import trail
from gatehouse.directory import signals
from gatehouse.enrollment.models import Campaign, Snooze

NUDGE, SNOOZED = "registration_nudge", "snoozed"
REQUIRED, BLOCKED = "registration_required", "blocked"
# Nothing to ask of this sign-in: the password was enough and there is no campaign to remind of.
GO_ON = "go_on"
MAX_SNOOZE_DAYS = 14
MAX_SNOOZES = 50


class CampaignError(ValueError):
    """Campaign settings refused; the message says which and what would be valid."""


@dataclass(frozen=True)
class RegistrationOutcome:
    """What a sign-in by a user without a second factor gets."""

    status: str  # NUDGE | SNOOZED | REQUIRED | BLOCKED | GO_ON
    reason: str  # a sign-in log reason code (docs/signin-log.md)
    days_left: int | None
    snoozes_left: int | None
    message: str
    deadline: date | None = None
    snooze_days: int | None = None
    # Whether the user may register from where this sign-in comes (a trusted location, or a
    # Temporary Access Pass); a nudge where they may not offers no "register now".
    can_register: bool = True
    # Until when a sign-in let through without the factor may reach its apps (SNOOZED, and a
    # nudge where registering is not possible, whose "continue" lasts to the deadline).
    grace_until: datetime | None = None


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
    none), and in none of its excluded groups. (Subqueries rather than joins: no DISTINCT over
    a million users.)"""
    User = get_user_model()
    users = User.objects.filter(is_active=True)
    memberships = User.groups.through.objects.filter(user_id=OuterRef("pk"))
    if campaign.groups:
        users = users.filter(Exists(memberships.filter(group__name__in=campaign.groups)))
    if campaign.exclude:
        users = users.exclude(Exists(memberships.filter(group__name__in=campaign.exclude)))
    return users


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


def day_start(day: date) -> datetime:
    """The first moment of `day` in the organisation's time zone (a deadline's, say)."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def registration_outcome(
    user, can_register: bool, needed: bool = True, now: datetime | None = None
) -> RegistrationOutcome:
    """For a sign-in by a user who has no second factor. `needed`: whether the policies ask
    this sign-in for one; `can_register`: whether the user may register from where it comes.

    While a campaign for the user runs (its deadline ahead): a snooze in force lets the
    sign-in through; where registering is possible the user is nudged (register now, or
    snooze while snoozes are left), and once the snoozes are used up must register; where it
    is not, a sign-in that needs the factor is told to register from a trusted site by the
    deadline and may continue. Without such a campaign (none, not in scope, or its deadline
    has come), a sign-in that needs the factor must register where that is possible and is
    blocked elsewhere — and one that does not need it is still sent to register if the user is
    in the campaign whose deadline has passed. Otherwise (GO_ON) there is nothing to ask."""
    now = now or timezone.now()
    campaign = current()
    in_campaign = campaign is not None and in_scope(campaign, user)
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if campaign is not None and in_campaign and days_left(campaign, now) > 0:
        left = days_left(campaign, now)
        taken = _snoozes(campaign, user)
        snoozes_left = max(campaign.snoozes - taken.count(), 0)
        when = day_text(campaign.deadline)
        facts = {
            "days_left": left,
            "snoozes_left": snoozes_left,
            "deadline": campaign.deadline,
            "snooze_days": campaign.snooze_days,
            "can_register": can_register,
        }
        snooze = taken.filter(until__gt=now).order_by("-until").first()
        if snooze is not None:
            return RegistrationOutcome(
                SNOOZED,
                "registration_snoozed",
                message=f"Reminder snoozed. Set up a second way to sign in before {when}.",
                grace_until=min(snooze.until, day_start(campaign.deadline)),
                **facts,
            )
        if not can_register:
            if not needed:
                return RegistrationOutcome(GO_ON, "ok", None, None, "")
            return RegistrationOutcome(
                NUDGE,
                NUDGE,
                message=f"Set up an authenticator app by {when} ({plural(left, 'day')} left), "
                "from a computer at one of the organisation's sites (or with a Temporary Access "
                f"Pass from {helpdesk}). After that, signing in from here will need it. You "
                "can continue for now.",
                grace_until=day_start(campaign.deadline),
                **facts,
            )
        if snoozes_left:
            return RegistrationOutcome(
                NUDGE,
                NUDGE,
                message=f"From {when} you will need a second way to sign in, such as an "
                f"authenticator app. {plural(left, 'day')} left: set it up now, or snooze this "
                f"reminder ({plural(snoozes_left, 'snooze')} left).",
                **facts,
            )
    elif not needed and not in_campaign:
        return RegistrationOutcome(GO_ON, "ok", None, None, "")
    if can_register:
        return RegistrationOutcome(
            REQUIRED,
            REQUIRED,
            None,
            None,
            "You need to set up a second way to sign in before you can continue.",
        )
    if not needed:
        return RegistrationOutcome(GO_ON, "ok", None, None, "")
    return RegistrationOutcome(
        BLOCKED,
        "mfa_registration_required",
        None,
        None,
        "This sign-in needs a second factor and you have not registered one. Register from a "
        f"computer at one of the organisation's sites, or contact {helpdesk}.",
        can_register=False,
    )


def snooze(user, now: datetime | None = None) -> datetime | None:
    """Take one snooze for the user: until when this sign-in's session may go on with the
    password alone (the snooze's end, never past the deadline; also when a snooze is already
    in force, without using another), or None when the user has none left, is not in the
    campaign, or its deadline has come."""
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the user's row so two simultaneous snoozes cannot both take the last one.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        running = _running(user, now)
        if running is None:
            return None
        campaign, _ = running
        taken = _snoozes(campaign, user)
        current_snooze = taken.filter(until__gt=now).order_by("-until").first()
        if current_snooze is None:
            if taken.count() >= campaign.snoozes:
                return None
            current_snooze = Snooze.objects.create(
                campaign=campaign,
                user=user,
                at=now,
                until=now + timedelta(days=campaign.snooze_days),
            )
    return min(current_snooze.until, day_start(campaign.deadline))


def reminder_for(user, now: datetime | None = None) -> dict | None:
    """For the start page of a user who has no second factor: the running campaign's deadline
    and days left, or None when no campaign asks anything of them now."""
    running = _running(user, now or timezone.now())
    if running is None:
        return None
    campaign, left = running
    return {"deadline": campaign.deadline, "days_left": left}


def day_text(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
