"""The registration campaign on the real database, with reminders delivered to a real SMTP
server: nudges, snoozes, the deadline, scope, reminders (once each, also from overlapping
runs), the registration report, the `gatehouse` commands and the admin API."""

import csv
import io
import json
import socket
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from gatehouse import jobs
from gatehouse.audit import trail
from gatehouse.audit.models import AuditEvent
from gatehouse.cli import main
from gatehouse.console import tokens
from gatehouse.enrollment import campaign as campaigns
from gatehouse.enrollment import reminders
from gatehouse.enrollment.models import Reminder, Snooze
from gatehouse.methods.models import AuthMethod

pytestmark = pytest.mark.django_db
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
HELPDESK = settings.CONFIG["organisation.helpdesk"]
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def start(days: int = 14, **options):
    return campaigns.start_campaign(TODAY + timedelta(days=days), actor="test", now=NOW, **options)


def register(user, kind: str = "totp"):
    return AuthMethod.objects.create(user=user, kind=kind, name=kind, confirmed=True)


def outcome(user, trusted: bool, at: datetime = NOW, needed: bool = True):
    """What a sign-in without a second factor gets; `trusted`: from where registering is
    possible (a trusted site)."""
    return campaigns.registration_outcome(user, can_register=trusted, needed=needed, now=at)


@pytest.fixture
def staff(make_user):
    """alice and carol (clinical, carol also helpdesk), bob (estates); nobody has a method."""
    return {
        "alice": make_user("alice", groups=["Clinical staff"], department="Clinical"),
        "bob": make_user("bob", groups=["Estates"], department="Estates"),
        "carol": make_user("carol", groups=["Clinical staff", "Helpdesk"], department="IT"),
    }


# --- nudges, snoozes and the deadline -----------------------------------------------------


def test_before_the_deadline_a_user_without_a_method_is_nudged_anywhere(staff):
    start(days=10, snoozes=3)
    for trusted in (True, False):
        nudge = outcome(staff["alice"], trusted)
        assert (nudge.status, nudge.reason) == ("registration_nudge", "registration_nudge")
        assert (nudge.days_left, nudge.snoozes_left) == (10, 3)
        assert nudge.deadline == TODAY + timedelta(days=10) and nudge.can_register == trusted
        assert "11 March 2030" in nudge.message and "10 days left" in nudge.message
    # Away from a trusted site: register from one by the deadline, and go on until then.
    away = outcome(staff["alice"], trusted=False)
    assert "from a computer at one of the organisation's sites" in away.message
    assert away.grace_until == datetime(2030, 3, 11, tzinfo=UTC)


def test_at_a_trusted_site_the_campaign_nudges_even_when_the_password_is_enough(staff):
    start(days=10, snoozes=1, groups=["Clinical staff"])
    nudge = outcome(staff["alice"], trusted=True, needed=False)
    assert (nudge.status, nudge.can_register) == ("registration_nudge", True)
    # Where registering is not possible there is nothing to ask of a password-only sign-in.
    assert outcome(staff["alice"], trusted=False, needed=False).status == "go_on"
    assert campaigns.snooze(staff["alice"], now=NOW) is not None
    assert outcome(staff["alice"], True, NOW + timedelta(days=2), needed=False).status == (
        "registration_required"
    )
    # Users outside the campaign are never stopped when the password is enough.
    assert outcome(staff["bob"], trusted=True, needed=False).status == "go_on"
    campaigns.end_campaign("test")
    assert outcome(staff["alice"], trusted=True, needed=False).status == "go_on"


def test_a_snooze_lets_sign_ins_through_for_snooze_days_and_they_run_out(staff):
    alice = staff["alice"]
    start(days=10, snooze_days=2, snoozes=2)
    assert campaigns.snooze(alice, now=NOW) == NOW + timedelta(days=2)
    snoozed = outcome(alice, trusted=False, at=NOW + timedelta(days=1))
    assert (snoozed.status, snoozed.reason) == ("snoozed", "registration_snoozed")
    assert snoozed.snoozes_left == 1 and snoozed.grace_until == NOW + timedelta(days=2)
    later = NOW + timedelta(days=2, minutes=1)
    assert outcome(alice, trusted=False, at=later).status == "registration_nudge"
    assert outcome(alice, trusted=False, at=later).snoozes_left == 1
    assert campaigns.snooze(alice, now=later) is not None
    assert outcome(alice, trusted=False, at=later).snoozes_left == 0
    spent = later + timedelta(days=2, minutes=1)
    assert outcome(alice, trusted=True, at=spent).status == "registration_required"
    # Away from the trust sites, before the deadline, the user may still go on (told plainly).
    away = outcome(alice, trusted=False, at=spent)
    assert (away.status, away.can_register) == ("registration_nudge", False)
    assert campaigns.snooze(alice, now=spent) is None
    assert [s.at for s in Snooze.objects.filter(user=alice).order_by("at")] == [NOW, later]


def test_asking_again_while_a_snooze_lasts_uses_no_other(staff):
    start(snoozes=2)
    assert campaigns.snooze(staff["alice"], now=NOW)
    assert campaigns.snooze(staff["alice"], now=NOW + timedelta(hours=1))
    assert Snooze.objects.filter(user=staff["alice"]).count() == 1


def test_zero_snooze_days_let_only_that_sign_in_through(staff):
    start(snooze_days=0, snoozes=3)
    assert campaigns.snooze(staff["alice"], now=NOW) == NOW
    again = outcome(staff["alice"], trusted=False, at=NOW + timedelta(seconds=1))
    assert (again.status, again.snoozes_left) == ("registration_nudge", 2)


def test_no_snoozes_allowed_means_registering_at_once(staff):
    start(snoozes=0)
    assert outcome(staff["alice"], trusted=True).status == "registration_required"
    assert campaigns.snooze(staff["alice"], now=NOW) is None


def test_once_the_deadline_comes_trusted_sites_register_and_elsewhere_is_blocked(staff):
    start(days=3, snooze_days=14)
    deadline_day = datetime.combine(TODAY + timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    # A snooze does not outlast the deadline.
    assert campaigns.snooze(staff["alice"], now=NOW) == deadline_day
    assert outcome(staff["alice"], True, deadline_day - timedelta(seconds=1)).days_left == 1
    required = outcome(staff["alice"], trusted=True, at=deadline_day)
    assert (required.status, required.reason) == ("registration_required", "registration_required")
    blocked = outcome(staff["alice"], trusted=False, at=deadline_day)
    assert (blocked.status, blocked.reason) == ("blocked", "mfa_registration_required")
    assert HELPDESK in blocked.message
    assert campaigns.snooze(staff["bob"], now=deadline_day) is None
    # In the campaign, past its deadline, a trusted site asks to register even when the
    # password is enough there.
    assert outcome(staff["bob"], True, deadline_day, needed=False).status == (
        "registration_required"
    )
    assert outcome(staff["bob"], False, deadline_day, needed=False).status == "go_on"


def test_without_a_running_campaign_registration_is_required_at_once(staff):
    assert outcome(staff["alice"], trusted=True).status == "registration_required"
    start()
    assert campaigns.end_campaign("test") is not None
    assert outcome(staff["alice"], trusted=False).reason == "mfa_registration_required"
    assert campaigns.snooze(staff["alice"], now=NOW) is None
    assert campaigns.end_campaign("test") is None


def test_only_users_in_the_groups_and_not_excluded_are_nudged(staff):
    start(groups=["Clinical staff"], exclude=["Helpdesk"])
    assert outcome(staff["alice"], trusted=False).status == "registration_nudge"
    assert outcome(staff["bob"], trusted=False).status == "blocked"  # not in the groups
    assert outcome(staff["carol"], trusted=True).status == "registration_required"  # excluded


def test_settings_are_validated_with_one_clear_reason(staff):
    with pytest.raises(campaigns.CampaignError, match="snooze days must be from 0 to 14"):
        start(snooze_days=15)
    with pytest.raises(campaigns.CampaignError, match="is not after today"):
        start(days=0)
    with pytest.raises(campaigns.CampaignError, match="no group named 'Nurses'"):
        start(groups=["Nurses"])
    with pytest.raises(campaigns.CampaignError, match="both included and excluded: Estates"):
        start(groups=["Estates"], exclude=["Estates"])
    assert campaigns.current() is None


def test_replacing_the_settings_keeps_the_snoozes_taken(staff):
    first = start(snoozes=2)
    campaigns.snooze(staff["alice"], now=NOW)
    second = start(days=20, snooze_days=0, snoozes=2)
    assert second.id == first.id
    assert outcome(staff["alice"], False, NOW + timedelta(days=2)).snoozes_left == 1


# --- reminders ----------------------------------------------------------------------------


def test_reminders_go_once_to_users_in_scope_without_a_method(staff, make_user, mailbox):
    register(staff["bob"])
    make_user("dave", groups=["Estates"]).__class__.objects.filter(username="dave").update(email="")
    start(days=14, exclude=["Helpdesk"])
    run = reminders.send_due(NOW)
    assert (run.due, run.sent, run.no_address, run.ok) == (14, 1, 1, True)
    [message] = mailbox.wait_for(1)
    assert message["To"] == "alice@example.org"
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["Subject"] == (
        "Set up a second way to sign in: needed from 15 March 2030 (14 days left)"
    )
    body = message.get_content()
    assert f"{settings.PUBLIC_URL}/security-info" in body and HELPDESK in body
    again = reminders.send_due(NOW + timedelta(hours=2))
    assert (again.sent, again.already) == (0, 1)
    assert reminders.send_due(NOW + timedelta(days=1)).sent == 0  # 13 days left: still the 14
    assert reminders.send_due(NOW + timedelta(days=7)).sent == 1  # 7 days left
    assert [m["Subject"].split("(")[1] for m in mailbox.wait_for(2)] == [
        "14 days left)",
        "7 days left)",
    ]


def test_a_late_run_sends_only_the_most_recent_reminder_missed(staff, mailbox):
    start(days=14, groups=["Estates"])
    run = reminders.send_due(NOW + timedelta(days=9))  # 5 days left: the 14 and 7 were missed
    assert (run.due, run.sent) == (7, 1)
    assert len(mailbox.wait_for(1)) == 1
    assert list(Reminder.objects.values_list("days_before", flat=True)) == [7]
    assert "(5 days left)" in mailbox.messages[0]["Subject"]


def test_no_reminder_before_the_schedule_or_after_the_deadline(staff, mailbox):
    start(days=20)
    assert "no reminder due (20 days left)" in reminders.send_due(NOW).summary()
    assert reminders.send_due(NOW + timedelta(days=20)).due is None
    campaigns.end_campaign("test")
    assert reminders.send_due(NOW).summary() == "no registration campaign is running"
    assert mailbox.messages == []


def test_a_reminder_that_could_not_be_sent_is_retried_by_the_next_run(staff, mailbox, settings):
    start(days=7, groups=["Estates"])
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = closed.getsockname()[1]  # nothing listens there
        failed = reminders.send_due(NOW)
    assert (failed.sent, failed.failed, failed.ok) == (0, 1, False)
    assert not Reminder.objects.exists()
    settings.EMAIL_PORT = mailbox.port
    assert reminders.send_due(NOW).sent == 1
    assert Reminder.objects.get().sent_at is not None
    assert [m["To"] for m in mailbox.wait_for(1)] == ["bob@example.org"]


def test_a_claim_left_by_a_run_that_died_is_taken_over_later(staff, mailbox):
    campaign = start(days=7, groups=["Estates"])
    Reminder.objects.create(
        campaign=campaign,
        user=staff["bob"],
        deadline=campaign.deadline,
        days_before=7,
        claimed_at=timezone.now() - timedelta(hours=2),
    )
    assert reminders.send_due(NOW).sent == 1
    assert reminders.send_due(NOW).sent == 0
    assert len(mailbox.wait_for(1)) == 1


def test_a_moved_deadline_gets_its_own_reminders(staff, mailbox):
    start(days=7, groups=["Estates"])
    reminders.send_due(NOW)
    start(days=14, groups=["Estates"])
    assert reminders.send_due(NOW).sent == 1
    assert len(mailbox.wait_for(2)) == 2


@pytest.mark.skipif(not ON_POSTGRESQL, reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_runs_send_each_reminder_once(make_user, mailbox):
    people = [make_user(f"user{i}", groups=["Staff"]) for i in range(20)]
    start(days=3)
    ready = threading.Barrier(2)
    results = []

    def run():
        from django.db import connection

        try:
            ready.wait()
            results.append(reminders.send_due(NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in results) == 20
    assert sum(r.already for r in results) == 20
    received = sorted(m["To"] for m in mailbox.wait_for(20))
    assert received == sorted(p.email for p in people)


def test_reminders_cost_a_few_queries_however_many_users(
    make_user, mailbox, django_assert_max_num_queries
):
    people = [make_user(f"user{n}", groups=["Staff"]) for n in range(150)]
    register(people[0])
    start(days=14)
    with django_assert_max_num_queries(16):  # was a few per user
        run = reminders.send_due(NOW)
    assert (run.sent, run.already) == (149, 0)
    assert len(mailbox.wait_for(149)) == 149


def test_jobs_run_sends_the_reminders_and_reports_what_it_did(staff, mailbox, capsys):
    campaigns.start_campaign(date.today() + timedelta(days=7), groups=["Estates"], actor="t")
    assert main(["jobs", "run"]) == 0
    out = capsys.readouterr().out
    assert "registration-reminders: 7-day reminder: 1 sent, 0 already sent" in out
    assert main(["jobs", "run", "registration-reminders"]) == 0
    assert "0 sent, 1 already sent" in capsys.readouterr().out
    assert len(mailbox.wait_for(1)) == 1
    assert main(["jobs", "run", "backups"]) == 2
    assert (
        "no job backups; jobs: directory-sync, registration-reminders, oidc-tokens, retention"
        in capsys.readouterr().err
    )


def test_jobs_run_exits_non_zero_when_mail_cannot_be_sent(staff, settings, capsys):
    campaigns.start_campaign(date.today() + timedelta(days=1), groups=["Estates"], actor="t")
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert main(["jobs", "run"]) == 2
    reason = capsys.readouterr().err.strip().splitlines()[-1]  # after the log's warnings
    assert reason == (
        "gatehouse jobs: not all done: registration-reminders (see above); run again later"
    )


@pytest.mark.django_db(transaction=True)  # the worker closes connections between rounds
def test_the_worker_runs_every_job_until_stopped(staff, mailbox):
    campaigns.start_campaign(date.today() + timedelta(days=14), groups=["Estates"], actor="t")
    stop = threading.Event()
    stop.set()  # one round, then stop
    jobs.worker(1, stop=stop)
    assert [m["To"] for m in mailbox.wait_for(1)] == ["bob@example.org"]
    assert Reminder.objects.get().sent_at is not None


# --- the registration report --------------------------------------------------------------


def test_report_counts_registered_users_by_group_and_department(
    staff, make_user, capsys, django_assert_max_num_queries
):
    register(staff["alice"])
    register(staff["alice"], kind="recovery_codes")
    register(staff["carol"], kind="recovery_codes")  # a fallback alone is not registered
    make_user("erin", department="")
    make_user("gone", groups=["Estates"], is_active=False)
    with django_assert_max_num_queries(7):  # one statement, whatever the number of users
        assert main(["report", "registration", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    table = {(r["by"], r["name"]): r for r in rows}
    clinical = table["group", "Clinical staff"]
    assert (clinical["users"], clinical["registered"], clinical["not_registered"]) == (
        "2",
        "1",
        "1",
    )
    assert clinical["methods"] == "recovery_codes: 2; totp: 1"
    assert table["group", "Estates"]["users"] == "1"  # the inactive user is left out
    assert table["group", "(no group)"]["users"] == "1"
    assert table["department", "(no department)"]["users"] == "1"
    assert table["department", "Clinical"]["registered"] == "1"
    assert [r["by"] for r in rows] == ["group"] * 4 + ["department"] * 4
    assert main(["report", "registration"]) == 0
    text = capsys.readouterr().out
    assert "by group" in text and "by department" in text
    assert any(line.split()[:3] == ["Estates", "1", "0"] for line in text.splitlines())


def test_the_report_follows_methods_added_removed_and_users_deleted(staff, capsys):
    from gatehouse.methods import registry

    def estates() -> dict:
        rows = csv.DictReader(io.StringIO(_report(capsys)))
        return next(r for r in rows if r["name"] == "Estates")

    totp = register(staff["bob"])
    register(staff["bob"], kind="push")
    assert (estates()["registered"], estates()["methods"]) == ("1", "push: 1; totp: 1")
    registry.remove(totp)
    assert estates()["methods"] == "push: 1"
    AuthMethod.objects.filter(user=staff["bob"]).delete()
    assert (estates()["registered"], estates()["methods"]) == ("0", "")
    register(staff["bob"])
    staff["bob"].delete()  # its methods, and what the report kept of them, go with it
    assert not any(r["name"] == "Estates" for r in csv.DictReader(io.StringIO(_report(capsys))))


def _report(capsys) -> str:
    assert main(["report", "registration", "--csv"]) == 0
    return capsys.readouterr().out


# --- the command ---------------------------------------------------------------------------


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out.strip(), out.err.strip()


def test_campaign_command_starts_shows_and_ends_a_campaign(staff, capsys):
    deadline = (date.today() + timedelta(days=14)).isoformat()
    code, out, _ = run_cli(
        capsys, "campaign", "--deadline", deadline, "--snoozes", "2", "--exclude", "Helpdesk"
    )
    assert code == 0
    assert out == (
        f"registration campaign: deadline {deadline} (14 days left); 2 snoozes of 1 day each; "
        "for everyone except Helpdesk"
    )
    assert run_cli(capsys, "campaign")[1] == out
    assert run_cli(capsys, "campaign", "--end") == (0, "ended the registration campaign", "")
    assert run_cli(capsys, "campaign")[1] == "no registration campaign is running"
    code, _, err = run_cli(capsys, "campaign", "--end")
    assert code == 2 and err == "gatehouse campaign: no registration campaign is running"
    actions = AuditEvent.objects.filter(actor__startswith="cli:").values_list("action", flat=True)
    assert list(actions) == ["campaign.start", "campaign.end"]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--snooze-days", "15"], "snooze days must be from 0 to 14, not 15"),
        (["--snooze-days", "-1"], "snooze days must be from 0 to 14, not -1"),
        (["--snoozes", "51"], "snoozes must be from 0 to 50, not 51"),
        (["--groups", "Nurses", "Estates"], "no group named 'Nurses'"),
    ],
)
def test_campaign_command_refuses_bad_settings_in_one_line(staff, capsys, options, reason):
    deadline = (date.today() + timedelta(days=14)).isoformat()
    code, _, err = run_cli(capsys, "campaign", "--deadline", deadline, *options)
    assert code == 2 and err == f"gatehouse campaign: {reason}"
    assert campaigns.current() is None


def test_campaign_command_refuses_a_deadline_that_has_come(capsys):
    code, _, err = run_cli(capsys, "campaign", "--deadline", date.today().isoformat())
    assert code == 2 and "is not after today" in err and "\n" not in err


# --- the admin API ------------------------------------------------------------------------


class Admin:
    def __init__(self, token: str):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def call(self, method: str, body: dict | None = None):
        kwargs = {"content_type": "application/json", **self.headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        return getattr(self.client, method)("/api/v1/admin/campaign", **kwargs)


@pytest.fixture
def admin(make_user):
    make_user("root", "root password", is_staff=True, is_superuser=True)
    return Admin(tokens.create("root", "tests", actor="test"))


def test_admin_api_starts_replaces_and_ends_the_campaign_audited(staff, admin):
    assert admin.call("get").status_code == 404
    deadline = (date.today() + timedelta(days=14)).isoformat()
    started = admin.call("put", {"deadline": deadline, "groups": ["Clinical staff"]})
    assert started.status_code == 200
    body = started.json()
    assert (body["deadline"], body["snooze_days"], body["snoozes"]) == (deadline, 1, 3)
    assert (body["groups"], body["exclude"], body["started_by"]) == (
        ["Clinical staff"],
        [],
        "api:root",
    )
    assert admin.call("get").json() == body
    bad = admin.call("put", {"deadline": deadline, "snooze_days": 15})
    assert bad.status_code == 400
    assert bad.json() == {
        "error": "invalid",
        "message": "snooze days must be from 0 to 14, not 15",
    }
    assert admin.call("put", {"deadline": "not a date"}).status_code == 422
    changed = admin.call("put", {"deadline": deadline, "snoozes": 1, "exclude": ["Helpdesk"]})
    assert changed.json()["id"] == body["id"] and changed.json()["groups"] == []
    assert admin.call("delete").status_code == 204
    assert admin.call("delete").status_code == 404
    assert admin.call("get").json()["error"] == "not_found"
    events = AuditEvent.objects.filter(target=f"campaign:{body['id']}")
    assert [(e.action, e.actor) for e in events] == [
        ("campaign.start", "api:root"),
        ("campaign.update", "api:root"),
        ("campaign.end", "api:root"),
    ]
    update = events[1].details
    assert (update["before"]["snoozes"], update["after"]["snoozes"]) == (3, 1)
    assert update["after"]["exclude"] == ["Helpdesk"]
    assert events[2].details["after"] is None
    assert trail.verify() is None


def test_admin_api_needs_an_admin_token(staff):
    assert Client().get("/api/v1/admin/campaign").status_code == 401
    assert Admin("gh_not-a-token").call("delete").status_code == 401
    assert campaigns.current() is None
