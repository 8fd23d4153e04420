"""The sign-in log for a SIEM: `gatehouse signins export` (JSON lines) and streaming each event
to a real syslog server (rsyslog on loopback, over UDP and TCP) as RFC 5424 messages."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from gatehouse.cli import main
from gatehouse.signin import export, syslog
from gatehouse.signin.models import SignInEvent
from tests.conftest import HOME, OFFICE

pytestmark = pytest.mark.django_db


def exported(capsys, *argv: str) -> list[dict]:
    assert main(["signins", "export", *argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_export_writes_each_event_since_a_time_as_a_json_line(api, alice, trust_sites, capsys):
    api.signin("alice", "wrong password", ip=HOME)
    api.signin("alice", "correct horse", ip=OFFICE)
    first, second = exported(capsys, "--since", "1h")
    assert (first["result"], first["reason"], first["ip"]) == ("failure", "bad_password", HOME)
    assert (second["result"], second["username"], second["locations"]) == (
        "success",
        "alice",
        ["Trust sites"],
    )
    assert second["user_id"] == alice.id and second["trusted"] is True
    assert second["methods"] == [{"method": "password", "result": "success"}]
    assert {"time", "app", "client_type", "device", "policies", "requirement"} <= set(second)
    assert second["time"].endswith("Z")
    # The flow's id lets its holder go on with a sign-in: only a digest of it leaves.
    event = SignInEvent.objects.get(id=second["id"])
    assert event.flow_id not in json.dumps(second)
    assert second["flow"] == export.flow_ref(event.flow_id)
    assert exported(capsys, "--since", (timezone.now() + timedelta(minutes=1)).isoformat()) == []


def test_export_reads_page_after_page_in_time_order(alice, capsys, monkeypatch):
    monkeypatch.setattr(export, "PAGE", 3)
    moment = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    # Several events share a time, across the pages' boundaries.
    times = [moment + timedelta(seconds=n // 3) for n in range(10)]
    made = [
        SignInEvent.objects.create(time=t, username="alice", result="success", reason="ok")
        for t in reversed(times)
    ]
    rows = exported(capsys, "--since", "2030-01-01", "--until", "2030-01-01T08:00:03")
    in_order = sorted((e.time, e.id) for e in made if e.time < moment + timedelta(seconds=3))
    assert [r["id"] for r in rows] == [event_id for _, event_id in in_order]
    assert len(rows) == 9


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--since", "yesterday"], "'yesterday' is neither a date or time"),
        (["--since", "1h", "--until", "2h"], "--until must be later than --since"),
        (["--since", "1h", "--format", "csv"], "invalid choice: 'csv'"),
    ],
)
def test_export_refuses_bad_options_in_one_line(capsys, argv, reason):
    try:
        code = main(["signins", "export", *argv])
    except SystemExit as exit:  # argparse's own refusals
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err


# --- syslog --------------------------------------------------------------------------------


@pytest.fixture
def streaming(settings, monkeypatch):
    """Stream to `address`; a new sender for each test, stopped with it."""

    def to(address: str) -> None:
        monkeypatch.setitem(settings.CONFIG.values["signin_log"], "syslog_address", address)

    yield to
    monkeypatch.setattr(syslog, "_sender", None)


def flushed() -> None:
    sender = syslog.sender()
    assert sender is not None
    sender.flush(5)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.django_db(transaction=True)  # events are streamed once committed
def test_each_sign_in_event_is_streamed_to_syslog_as_rfc5424(
    api, alice, trust_sites, syslog_receiver, streaming, transport
):
    streaming(getattr(syslog_receiver, f"{transport}_address"))
    api.signin("alice", "wrong password", ip=HOME)
    api.signin("alice", "correct horse", ip=OFFICE)
    flushed()
    failed, succeeded = syslog_receiver.wait_for(2)
    for message in (failed, succeeded):
        assert (message["version"], message["app"], message["msgid"]) == (
            "1",
            "gatehouse",
            "signin",
        )
        assert message["facility"] == "authpriv"
    assert (failed["severity"], succeeded["severity"]) == ("notice", "info")
    event = json.loads(succeeded["msg"])
    stored = SignInEvent.objects.get(id=event["id"])
    assert event == export.record(stored)
    assert stored.flow_id not in succeeded["msg"]
    assert json.loads(failed["msg"])["reason"] == "bad_password"


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_syslog_server_never_holds_a_sign_in_up(
    api, alice, trust_sites, streaming, caplog
):
    streaming("tcp://127.0.0.1:9")  # nothing listens on the discard port
    assert api.signin("alice", "correct horse", ip=OFFICE).json()["status"] == "authenticated"
    flushed()
    assert syslog.sender().dropped == 1
    assert "not streamed to syslog tcp://127.0.0.1:9 (1 so far)" in caplog.text
    assert SignInEvent.objects.filter(result="success").count() == 1
