"""The registration campaign's rules that need no database: which reminder is due, how days
are counted, what the reminder says, and command-line input refused before anything runs."""

from datetime import UTC, date, datetime

import pytest
from django.conf import settings

from gatehouse.cli import main
from gatehouse.directory.models import User
from gatehouse.enrollment.campaign import days_left, describe
from gatehouse.enrollment.models import Campaign
from gatehouse.enrollment.reminders import due_reminder, reminder_message

DEADLINE = date(2030, 1, 15)


@pytest.mark.parametrize(
    ("left", "due"),
    [(30, None), (15, None), (14, 14), (8, 14), (7, 7), (5, 7), (3, 3), (2, 3), (1, 1)],
)
def test_the_most_recent_reminder_reached_is_the_one_due(left, due):
    assert due_reminder(left) == due


@pytest.mark.parametrize("left", [0, -1, -30])
def test_no_reminder_is_due_once_the_deadline_has_come(left):
    assert due_reminder(left) is None


def test_the_deadline_is_the_first_day_registration_is_required():
    campaign = Campaign(deadline=DEADLINE)
    assert days_left(campaign, datetime(2030, 1, 1, 0, 0, tzinfo=UTC)) == 14
    assert days_left(campaign, datetime(2030, 1, 14, 23, 59, tzinfo=UTC)) == 1
    assert days_left(campaign, datetime(2030, 1, 15, 0, 0, tzinfo=UTC)) == 0


def test_the_reminder_names_the_deadline_the_portal_and_the_helpdesk():
    user = User(username="alice", display_name="Alice Adeyemi")
    subject, body = reminder_message(user, Campaign(deadline=DEADLINE), 7)
    assert subject == "Set up a second way to sign in: needed from 15 January 2030 (7 days left)"
    assert body.startswith("Hello Alice Adeyemi,")
    assert "From 15 January 2030 you will need it" in body
    assert f"{settings.PUBLIC_URL}/security-info" in body
    assert "trust computer" in body
    assert f"No smartphone? Contact {settings.CONFIG['organisation.helpdesk']}" in body


def test_one_day_left_is_said_in_the_singular():
    subject, _ = reminder_message(User(username="bob"), Campaign(deadline=DEADLINE), 1)
    assert subject.endswith("(1 day left)")


def test_describe_says_deadline_snoozes_and_scope():
    campaign = Campaign(
        deadline=DEADLINE, snooze_days=1, snoozes=3, groups=["Clinical"], exclude=["Helpdesk"]
    )
    assert describe(campaign, datetime(2030, 1, 8, tzinfo=UTC)) == (
        "registration campaign: deadline 2030-01-15 (7 days left); 3 snoozes of 1 day each; "
        "for Clinical except Helpdesk"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["campaign", "--deadline", "2030-13-01"],
        ["campaign", "--deadline", "soon"],
        ["campaign", "--deadline", "2030-01-15", "--snooze-days", "two"],
        ["campaign", "--deadline", "2030-01-15", "--groups"],
        ["jobs"],
        ["jobs", "worker", "--every", "0"],
        ["report"],
    ],
)
def test_malformed_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["campaign", "--snoozes", "2"], "need --deadline"),
        (["campaign", "--end", "--deadline", "2030-01-15"], "--end takes no other options"),
    ],
)
def test_contradictory_campaign_options_are_refused_in_one_line(argv, reason, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert reason in err and "\n" not in err
