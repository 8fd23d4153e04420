"""The Gatehouse Authenticator against the real server in-process: pairing from Security info,
push challenges answered by the Python device client, number matching, replay, expiry, push
fatigue limits and fraud reports."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gatehouse import clock
from gatehouse.access.devices import DeviceClass
from gatehouse.access.locator import Whereabouts
from gatehouse.audit.models import AuditEvent
from gatehouse.authenticator import challenges, fraud, protocol, webpush
from gatehouse.authenticator.client import ClientError, DeviceClient
from gatehouse.authenticator.models import FraudBlock, PairedDevice, PairingLink, PushChallenge
from gatehouse.console import tokens
from gatehouse.methods import tap
from gatehouse.signin import flow as signin_flow
from gatehouse.signin import log, longpoll, push_answers
from gatehouse.signin.client import ClientContext
from gatehouse.signin.models import SignInEvent, SignInFlow, SSOSession
from gatehouse.signin.throttle import factor_key
from gatehouse.signin.throttle_store import throttle
from tests.conftest import HOME, OFFICE, ApiClient
from tests.counting import count
from tests.phones import DjangoTransport, new_link, pair_phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(api, alice, trust_sites):
    assert api.signin("alice", "correct horse", ip=OFFICE).json()["status"] == "authenticated"
    return api


@pytest.fixture
def phone(signed_in, tmp_path) -> DeviceClient:
    return pair_phone(signed_in, tmp_path)


@pytest.fixture
def woken(monkeypatch) -> list[str]:
    """The flows whose waiting sign-in pages were woken."""
    calls: list[str] = []
    monkeypatch.setattr(push_answers, "notify", calls.append)
    return calls


@pytest.fixture
def pushed(monkeypatch) -> list[dict]:
    """The notifications sent (instead of sending them)."""
    sent: list[dict] = []

    def record(subscriptions, payload, ttl):
        sent.append(payload)
        return {key: webpush.SENT for key in subscriptions}

    monkeypatch.setattr(webpush, "send_all", record)
    return sent


def mfa_sign_in(ip: str = HOME) -> tuple[ApiClient, dict]:
    """A second browser signing alice in; the policies want a second factor."""
    browser = ApiClient(Client(), ip=ip)
    body = browser.signin("alice", "correct horse").json()
    assert body["status"] == "mfa_required", body
    return browser, body


def answers(answer: str) -> float:
    return count("gatehouse_push_answers_total", answer=answer)


def answer_path(challenge_id: str) -> str:
    return f"/api/v1/authenticator/challenges/{challenge_id}/answer"


def challenge_for(flow_id: str, user, ip: str = HOME, app: str = "Webmail"):
    return challenges.create(flow_id=flow_id, user=user, context={"app": app, "ip": ip})


# --- pairing --------------------------------------------------------------------------------


def test_a_paired_phone_is_listed_by_name_at_once(signed_in, alice, tmp_path, mailbox):
    link = new_link(signed_in)
    assert link["url"].startswith("http://127.0.0.1:8000/authenticator/pair#")
    assert link["qr_svg"].startswith("<svg")
    assert signed_in.get(f"/api/v1/me/authenticator/pairing/{link['id']}").json() == {
        "status": "waiting"
    }
    phone = DeviceClient(tmp_path / "phone.json", transport=DjangoTransport())
    state = phone.pair(link["url"], "Alice's Pixel")
    assert state.user == "alice" and state.vapid_public_key == webpush.public_key()
    status = signed_in.get(f"/api/v1/me/authenticator/pairing/{link['id']}").json()
    assert status["status"] == "paired" and status["method"]["name"] == "Alice's Pixel"
    methods = signed_in.get("/api/v1/me/methods").json()
    assert [(m["kind"], m["label"], m["name"], m["default"]) for m in methods] == [
        ("push", "Gatehouse Authenticator", "Alice's Pixel", True)
    ]
    assert AuditEvent.objects.filter(action="method.add", target="user:alice").exists()
    assert 'Gatehouse Authenticator "Alice\'s Pixel"' in mailbox.wait_for(1)[0].get_content()
    assert (tmp_path / "phone.json").stat().st_mode & 0o777 == 0o600


def test_a_pairing_link_pairs_one_phone_only(signed_in, tmp_path):
    url = new_link(signed_in)["url"]
    DeviceClient(tmp_path / "a.json", transport=DjangoTransport()).pair(url, "First")
    with pytest.raises(ClientError) as refused:
        DeviceClient(tmp_path / "b.json", transport=DjangoTransport()).pair(url, "Second")
    assert refused.value.code == "invalid_link" and refused.value.status == 410
    assert PairedDevice.objects.count() == 1


def test_a_pairing_link_expires_after_ten_minutes(signed_in, tmp_path):
    link = new_link(signed_in)
    created = PairingLink.objects.get(id=link["id"])
    assert created.expires_at - created.created_at == timedelta(minutes=10)
    PairingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ClientError) as refused:
        DeviceClient(tmp_path / "a.json", transport=DjangoTransport()).pair(link["url"])
    assert refused.value.code == "invalid_link"
    status = signed_in.get(f"/api/v1/me/authenticator/pairing/{link['id']}").json()
    assert status == {"status": "expired"}


def test_a_new_pairing_link_voids_the_unused_one(signed_in, tmp_path):
    first = new_link(signed_in)["url"]
    new_link(signed_in)
    with pytest.raises(ClientError):
        DeviceClient(tmp_path / "a.json", transport=DjangoTransport()).pair(first)


def test_pairing_from_home_is_refused(api, alice, trust_sites):
    assert api.signin("alice", "correct horse", ip=HOME).json()["status"] == "authenticated"
    refused = api.post("/api/v1/me/authenticator/pairing", ip=HOME)
    assert refused.status_code == 403
    assert refused.json()["error"] == "registration_location_not_trusted"
    assert not PairingLink.objects.exists()


def test_a_temporary_access_pass_allows_pairing_from_home(api, alice, trust_sites, mfa_everywhere):
    issued = tap.issue(alice, "cli:root")
    flow = api.signin("alice", "correct horse", ip=HOME).json()["flow"]
    api.post(f"/api/v1/signin/{flow}/verify", {"method": "tap", "code": issued.code}, ip=HOME)
    assert api.post("/api/v1/me/authenticator/pairing", ip=HOME).status_code == 201


def test_pairing_needs_a_recent_sign_in(signed_in):
    SSOSession.objects.update(auth_time=timezone.now() - timedelta(minutes=11))
    response = signed_in.post("/api/v1/me/authenticator/pairing")
    assert response.status_code == 401 and response.json()["error"] == "reauthentication_required"


def test_pairing_finishes_a_registration_interrupt(
    api, alice, trust_sites, mfa_everywhere, tmp_path
):
    body = api.signin("alice", "correct horse", ip=OFFICE).json()
    assert body["status"] == "registration_required"
    assert SSOSession.objects.get().scope == "register"
    link = new_link(api)
    DeviceClient(tmp_path / "a.json", transport=DjangoTransport()).pair(link["url"], "Pixel")
    assert api.get(f"/api/v1/me/authenticator/pairing/{link['id']}").json()["status"] == "paired"
    session = SSOSession.objects.get()
    assert session.scope == "full" and {"swk", "mfa"} <= set(session.amr)


def test_a_bad_public_key_or_push_service_is_refused(signed_in, tmp_path):
    url = new_link(signed_in)["url"]
    transport = DjangoTransport()
    token = url.split("#")[1]
    status, body = transport(
        "POST",
        "http://testserver/api/v1/authenticator/pair",
        {"Content-Type": "application/json"},
        json.dumps({"token": token, "public_key": {"kty": "EC", "crv": "P-256"}}).encode(),
    )
    assert status == 400 and body["error"] == "invalid_key"
    with pytest.raises(ClientError) as refused:
        DeviceClient(tmp_path / "a.json", transport=transport).pair(
            url,
            "Pixel",
            {"endpoint": "https://intranet.example.org/x", "keys": {"p256dh": "AA", "auth": "AA"}},
        )
    assert refused.value.code == "invalid_subscription"
    assert "not one of the push services" in refused.value.message


def test_removing_the_phone_in_security_info_unpairs_it(signed_in, phone):
    method_id = signed_in.get("/api/v1/me/methods").json()[0]["id"]
    assert signed_in.delete(f"/api/v1/me/methods/{method_id}").status_code == 204
    assert not PairedDevice.objects.exists()
    with pytest.raises(ClientError) as refused:
        phone.pending()
    assert refused.value.code == "unauthorized"


def test_requests_signed_by_no_paired_key_are_refused(phone):
    transport = phone.transport
    url = phone.state.server + "/api/v1/authenticator/pending"
    assert transport("GET", url, {}, b"")[0] == 401
    header = {"Authorization": f"Gatehouse-Device id={phone.state.device_id}, ts=1, sig=AAAA"}
    assert transport("GET", url, header, b"")[0] == 401
    stale = DeviceClient(phone.state_path, transport=transport, clock=lambda: 1_000_000_000)
    with pytest.raises(ClientError) as refused:
        stale.pending()
    assert refused.value.status == 401


# --- challenges -----------------------------------------------------------------------------


def test_the_phone_sees_what_is_signing_in_but_not_the_number(phone, alice, mfa_everywhere, pushed):
    _, body = mfa_sign_in()
    assert body["methods"][0]["method"] == "push"
    challenge = challenge_for(body["flow"], alice)
    assert 10 <= challenge.number <= 99 and challenge.status == "pending"
    assert challenge.expires_at - timezone.now() <= timedelta(seconds=60)
    [waiting] = phone.pending()
    assert waiting["id"] == challenge.id
    assert waiting["app"] == "Webmail" and waiting["ip"] == HOME
    assert waiting["location"] == "unknown location"
    assert "number" not in waiting and challenge.number not in waiting.values()


def test_approving_with_the_number_shown_lets_the_sign_in_through(
    phone, alice, mfa_everywhere, woken, pushed
):
    sent, approved = count("gatehouse_push_challenges_total"), answers("approved")
    browser, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    assert phone.approve(challenge.id, challenge.number) == "approved"
    assert challenges.state(challenge.id) == "approved"
    assert (count("gatehouse_push_challenges_total"), answers("approved")) == (
        sent + 1,
        approved + 1,
    )
    assert woken == [body["flow"]]
    verified = browser.post(
        f"/api/v1/signin/{body['flow']}/verify", {"method": "push", "code": challenge.id}
    )
    assert verified.json()["status"] == "authenticated"
    session = SSOSession.objects.order_by("-created_at").first()
    assert {"pwd", "swk", "mfa"} <= set(session.amr)
    answered = PushChallenge.objects.get(id=challenge.id)
    assert json.loads(answered.answer["message"])["number"] == challenge.number
    assert phone.pending() == []


def test_the_state_marks_itself_for_the_long_poll_while_a_push_waits(
    phone, alice, mfa_everywhere, woken
):
    """What gatehouse/signin/longpoll.py holds a page on: the view's WAITS header, set while a
    push waits and not once it is answered."""
    browser, body = mfa_sign_in()
    state = browser.get(f"/api/v1/signin/{body['flow']}?wait=25")
    assert "push" not in state.json() and longpoll.WAITS not in state  # no push asked for yet
    push = browser.post(f"/api/v1/signin/{body['flow']}/push", {}).json()
    state = browser.get(f"/api/v1/signin/{body['flow']}?wait=25")
    assert state.json()["push"] and state[longpoll.WAITS] == "push"
    phone.approve(push["challenge"], push["number"])
    state = browser.get(f"/api/v1/signin/{body['flow']}?wait=25")
    assert state.json()["push"]["state"] == "approved" and longpoll.WAITS not in state
    state = browser.post(f"/api/v1/signin/{body['flow']}/push/collect", {})
    assert state.json()["status"] == "authenticated" and longpoll.WAITS not in state
    assert browser.get(f"/api/v1/signin/{body['flow']}?wait=-1").status_code == 422


def test_an_approval_counts_once(phone, alice, mfa_everywhere, woken):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    phone.approve(challenge.id, challenge.number)
    first = signin_flow.get(body["flow"])
    assert isinstance(signin_flow.verify(first, "push", challenge.id), signin_flow.MovedOn)
    _, other = mfa_sign_in()
    again = signin_flow.verify(signin_flow.get(other["flow"]), "push", challenge.id)
    assert again.error == "invalid_code"


def test_a_wrong_number_fails_the_challenge_and_counts_as_a_failed_attempt(
    phone, alice, mfa_everywhere, woken
):
    browser, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    wrong = 10 if challenge.number != 10 else 11
    assert phone.approve(challenge.id, wrong) == "wrong_number"
    assert challenges.state(challenge.id) == "wrong_number"
    assert woken == [body["flow"]]
    assert throttle().store.read(factor_key("alice"))["failures"] == 1
    refused = browser.post(
        f"/api/v1/signin/{body['flow']}/verify", {"method": "push", "code": challenge.id}
    )
    assert refused.status_code == 400
    # The flow needs a new challenge, which a right number approves.
    again = challenge_for(body["flow"], alice)
    assert phone.approve(again.id, again.number) == "approved"


def test_a_replayed_answer_is_refused(phone, alice, mfa_everywhere, woken):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    phone.approve(challenge.id, challenge.number)
    status, answer = phone.transport.replay()
    assert status == 409 and answer["error"] == "already_answered"


def test_only_the_first_answer_counts(phone, alice, mfa_everywhere, woken):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    assert phone.deny(challenge.id) == "denied"
    with pytest.raises(ClientError) as refused:
        phone.approve(challenge.id, challenge.number)
    assert refused.value.code == "already_answered"
    assert challenges.state(challenge.id) == "denied" and woken == [body["flow"]]


def test_an_answer_signed_for_another_challenge_is_refused(phone, alice, mfa_everywhere):
    _, first = mfa_sign_in()
    _, second = mfa_sign_in()
    one, other = challenge_for(first["flow"], alice), challenge_for(second["flow"], alice)
    phone.approve(one.id, one.number)
    _, _, _, body = phone.transport.last
    stolen = json.loads(body)
    with pytest.raises(ClientError) as refused:
        phone.request(
            "POST", phone.state.server, answer_path(other.id), stolen, signed_by=phone.state
        )
    assert refused.value.code == "invalid_signature"
    assert challenges.state(other.id) == "pending"


def test_an_expired_challenge_cannot_be_answered(phone, alice, mfa_everywhere):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    PushChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert challenges.state(challenge.id) == "expired"
    assert phone.pending() == []
    expired = answers("expired")
    with pytest.raises(ClientError) as refused:
        phone.approve(challenge.id, challenge.number)
    assert refused.value.code == "expired" and refused.value.status == 410
    assert answers("expired") == expired + 1


def test_a_challenge_expires_when_its_minute_has_passed_on_the_clock(phone, alice, mfa_everywhere):
    with clock.frozen() as now:
        _, body = mfa_sign_in()
        challenge = challenge_for(body["flow"], alice)
        now.advance(59)
        assert challenges.state(challenge.id) == "pending"
        now.advance(1)
        assert challenges.state(challenge.id) == "expired"
        with pytest.raises(ClientError) as refused:
            phone.approve(challenge.id, challenge.number)
        assert refused.value.code == "expired" and refused.value.status == 410


@pytest.mark.parametrize(
    "end",
    [
        {"status": "authenticated"},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
    ids=["signed-in", "expired"],
)
def test_an_answer_after_the_sign_in_ended_is_refused(phone, alice, mfa_everywhere, end):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    SignInFlow.objects.filter(id=body["flow"]).update(**end)
    with pytest.raises(ClientError) as refused:
        phone.approve(challenge.id, challenge.number)
    assert refused.value.code == "sign_in_over"
    assert challenges.state(challenge.id) == "expired"


def test_an_answer_with_a_wrong_clock_is_refused(phone, alice, mfa_everywhere):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    state, then = phone.state, int(time.time()) - 600
    signature = protocol.sign_answer(
        state.private_key, challenge.id, challenge.number, "approve", then
    )
    answer = {
        "decision": "approve",
        "number": challenge.number,
        "time": then,
        "signature": signature,
    }
    with pytest.raises(ClientError) as refused:
        phone.request("POST", state.server, answer_path(challenge.id), answer, signed_by=state)
    assert refused.value.code == "clock_skew"
    assert challenges.state(challenge.id) == "pending"


def test_a_new_challenge_replaces_the_flows_pending_one(phone, alice, mfa_everywhere):
    _, body = mfa_sign_in()
    first = challenge_for(body["flow"], alice)
    second = challenge_for(body["flow"], alice)
    assert challenges.state(first.id) == "expired"
    assert [c["id"] for c in phone.pending()] == [second.id]


def test_no_challenge_without_a_paired_phone(alice):
    with pytest.raises(challenges.Refused) as refused:
        challenge_for("flow-x", alice)
    assert refused.value.reason == "no_device"


# --- push fatigue ---------------------------------------------------------------------------


def test_at_most_three_pushes_wait_at_once(phone, alice):
    for n in range(3):
        challenge_for(f"flow-{n}", alice)
    with pytest.raises(challenges.Refused) as refused:
        challenge_for("flow-4", alice)
    assert refused.value.reason == "too_many_pending"
    PushChallenge.objects.filter(flow_id="flow-0").update(status="denied")
    challenge_for("flow-4", alice)


def test_at_most_ten_pushes_an_hour(phone, alice):
    for n in range(10):
        challenge_for(f"flow-{n}", alice)
        PushChallenge.objects.update(status="denied")
    with pytest.raises(challenges.Refused) as refused:
        challenge_for("flow-11", alice)
    assert refused.value.reason == "too_many_pushes"
    PushChallenge.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    challenge_for("flow-11", alice)


# --- a location the user has never signed in from -------------------------------------------


def logged_sign_in(user, ip: str, locations=(), result: str = "success"):
    """A sign-in of `user` from `ip` (in the named `locations`), written to the sign-in log."""
    log.record(
        username=user.username,
        user=user,
        client=ClientContext(ip=ip, peer="127.0.0.1", device_fingerprint=None, user_agent=""),
        where=Whereabouts(frozenset(locations), bool(locations)),
        device=DeviceClass("personal", "no_certificate"),
        result=result,
        reason="ok" if result == "success" else "bad_password",
    )


def test_no_notification_from_a_location_never_signed_in_from(phone, alice, pushed):
    challenge = challenge_for("flow-1", alice, ip=HOME)
    assert not challenge.notified and pushed == []
    row = PushChallenge.objects.get(id=challenge.id)
    assert row.context["notified"] is False and row.context["why"] == "new_location"
    # The app still finds it when opened.
    assert [c["id"] for c in phone.pending()] == [challenge.id]


def test_a_notification_from_a_known_address_or_named_location(phone, alice, pushed):
    PairedDevice.objects.update(
        push_subscription={"endpoint": "https://fcm.googleapis.com/x", "keys": {}}
    )
    logged_sign_in(alice, HOME)
    assert challenge_for("flow-1", alice, ip=HOME).notified
    # Another address in a named location alice has signed in from.
    logged_sign_in(alice, OFFICE, ["Trust sites"])
    assert challenge_for("flow-2", alice, ip="10.9.9.9").notified
    assert [p["id"] for p in pushed] == [c.id for c in PushChallenge.objects.order_by("created_at")]
    assert all("number" not in p for p in pushed)
    assert pushed[1]["location"] == "Trust sites"


def test_failed_sign_ins_do_not_make_a_location_known(phone, alice, pushed):
    logged_sign_in(alice, HOME, result="failure")
    assert not challenge_for("flow-1", alice, ip=HOME).notified


# --- fraud reports --------------------------------------------------------------------------


@pytest.fixture
def admin(make_user):
    return make_user("root", "admin password", is_staff=True)


def test_reporting_a_push_blocks_audits_and_tells_the_administrators(
    phone, alice, admin, mfa_everywhere, mailbox, woken, settings
):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    fraud_before, denied_before = answers("fraud"), answers("denied")
    assert phone.deny(challenge.id, report=True) == "denied"
    assert (answers("fraud"), answers("denied")) == (fraud_before + 1, denied_before)
    assert woken == [body["flow"]]
    until = fraud.blocked_until(alice)
    expected = timezone.now() + timedelta(seconds=settings.CONFIG["authenticator.fraud_block"])
    assert until is not None and abs((until - expected).total_seconds()) < 60
    assert settings.CONFIG["authenticator.fraud_block"] == 90 * 86400
    event = SignInEvent.objects.get(flow_id=body["flow"])
    assert (event.result, event.reason) == ("failure", "fraud_reported")
    audited = AuditEvent.objects.get(action="authenticator.fraud_report")
    assert audited.target == "user:alice" and audited.details["sign_in"]["ip"] == HOME
    [message] = [m for m in mailbox.wait_for(1) if "root@example.org" in m["To"]]
    assert "alice" in message["Subject"] and HOME in message.get_content()
    assert "gatehouse users unblock alice" in message.get_content()
    refusals = count("gatehouse_push_challenges_refused_total", reason="fraud_reported")
    with pytest.raises(challenges.Refused) as refused:
        challenge_for("flow-2", alice)
    assert refused.value.reason == "fraud_reported"
    after = count("gatehouse_push_challenges_refused_total", reason="fraud_reported")
    assert after == refusals + 1


def test_the_helpdesk_lifts_a_fraud_block(phone, alice, admin, api):
    challenge = challenge_for("flow-1", alice)
    SignInFlow.objects.create(
        id="flow-1",
        user=alice,
        status="mfa_required",
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    phone.deny(challenge.id, report=True)
    token = tokens.create("root", "helpdesk", "test")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    shown = api.client.get("/api/v1/admin/users/alice/fraud-block", **bearer)
    assert shown.status_code == 200 and shown.json()["user"] == "alice"
    lifted = api.client.post(
        "/api/v1/admin/users/alice/fraud-block/lift", content_type="application/json", **bearer
    )
    assert lifted.status_code == 204
    assert fraud.blocked_until(alice) is None
    assert FraudBlock.objects.get().lifted_by == "api:root"
    assert AuditEvent.objects.filter(action="authenticator.fraud_block.lift").exists()
    again = api.client.post(
        "/api/v1/admin/users/alice/fraud-block/lift", content_type="application/json", **bearer
    )
    assert again.status_code == 404
    challenge_for("flow-2", alice)


def test_the_security_info_page_shows_a_pairing_qr_code(signed_in, tmp_path):
    choose = signed_in.client.get("/security-info/setup", HTTP_X_FORWARDED_FOR=OFFICE)
    assert b'action="/security-info/setup/push"' in choose.content
    sent = signed_in.client.post("/security-info/setup/push", HTTP_X_FORWARDED_FOR=OFFICE)
    link = PairingLink.objects.get()
    assert sent.status_code == 302 and sent["Location"] == f"/security-info/setup/push/{link.id}"
    # A page of its own address: opened again, it shows the same code.
    pages = [signed_in.client.get(sent["Location"], HTTP_X_FORWARDED_FOR=OFFICE) for _ in "ab"]
    for page in pages:
        assert page.status_code == 200 and b"<svg" in page.content
        assert f'data-id="{link.id}"'.encode() in page.content
    assert pages[0].content == pages[1].content and PairingLink.objects.count() == 1
    refused = signed_in.client.post("/security-info/setup/push", HTTP_X_FORWARDED_FOR=HOME)
    assert refused.status_code == 403


# --- issue 10: what a report does, newest first, the default phone, telling phones apart ----

WARD_PC = "cd" * 32


def sign_in_on(ip: str, device: str = "") -> dict:
    extra = {"HTTP_X_CLIENT_CERT_SHA256": device} if device else {}
    return (
        Client()
        .post(
            "/api/v1/signin",
            {"username": "alice", "password": "correct horse"},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=ip,
            **extra,
        )
        .json()
    )


@pytest.fixture
def trust_computer(db):
    from gatehouse.access.models import ManagedDevice

    return ManagedDevice.objects.create(fingerprint=WARD_PC, name="Ward PC")


def test_a_report_leaves_the_trust_computer_at_a_trust_site_open(
    phone, alice, trust_computer, mfa_everywhere, settings
):
    _, body = mfa_sign_in()
    challenge = challenge_for(body["flow"], alice)
    # The phone says, before the button, what reporting does; and after it, what to do.
    [waiting] = phone.pending()
    assert "blocks sign-ins to your account" in waiting["report_warning"]
    assert "except on the organisation's own computers" in waiting["report_warning"]
    told = phone.report(challenge.id)
    assert settings.CONFIG["organisation.helpdesk"] in told and "Security info" in told
    assert "change your password" not in told.lower()  # nothing Gatehouse does not offer
    for ip, device in ((HOME, ""), (OFFICE, ""), (HOME, WARD_PC)):
        refused = sign_in_on(ip, device)
        assert (refused["status"], refused["reason"]) == ("blocked", "fraud_reported"), (ip, device)
    # On the trust computer at a trust site the person can still be helped; push stays off.
    let_in = sign_in_on(OFFICE, WARD_PC)
    assert let_in["status"] == "mfa_required"
    with pytest.raises(challenges.Refused):
        challenge_for(let_in["flow"], alice)


def test_an_organisation_can_block_everywhere(
    phone, alice, trust_computer, mfa_everywhere, settings
):
    settings.CONFIG.values["authenticator"]["fraud_block_everywhere"] = True
    try:
        _, body = mfa_sign_in()
        phone.deny(challenge_for(body["flow"], alice).id, report=True)
        assert sign_in_on(OFFICE, WARD_PC)["reason"] == "fraud_reported"
        assert "everywhere, until" in fraud.warning()
    finally:
        settings.CONFIG.values["authenticator"]["fraud_block_everywhere"] = False


def test_the_phone_lists_the_newest_request_first(phone, alice):
    first = challenge_for("flow-old", alice)
    PushChallenge.objects.filter(id=first.id).update(
        created_at=timezone.now() - timedelta(seconds=20)
    )
    second = challenge_for("flow-new", alice)
    assert [p["id"] for p in phone.pending()] == [second.id, first.id]


def test_a_newly_paired_phone_becomes_the_default_and_two_phones_look_different(
    signed_in, alice, tmp_path, with_totp
):
    with_totp(alice, "My app")
    pair_phone(signed_in, tmp_path, name="Android phone")
    pair_phone(signed_in, tmp_path / "second", name="Android phone")
    methods = signed_in.get("/api/v1/me/methods").json()
    phones = [m for m in methods if m["kind"] == "push"]
    assert sorted(m["name"] for m in phones) == ["Android phone", "Android phone 2"]
    assert [m["name"] for m in methods if m["default"]] == ["Android phone 2"]
