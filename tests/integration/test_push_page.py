"""The sign-in page that waits for a phone (issue 10, defect 3): a stable address
(post/redirect/get), the first request sent by itself, a countdown, plain words for a wrong
number or an expired request, and never a request the person did not ask for."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gatehouse.authenticator.models import PushChallenge
from tests.conftest import HOME, OFFICE
from tests.phones import pair_phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone(api, alice, trust_sites, mfa_everywhere, tmp_path, monkeypatch):
    from gatehouse.signin import push_answers

    monkeypatch.setattr(push_answers, "notify", lambda flow_id: None)
    assert (
        api.signin("alice", "correct horse", ip=OFFICE).json()["status"] == "registration_required"
    )
    return pair_phone(api, tmp_path, name="Alice's Pixel")


@pytest.fixture
def waiting(phone):
    """A browser at home past the password: the address of its second-factor page."""
    browser = Client(HTTP_X_FORWARDED_FOR=HOME)
    step = browser.post("/signin", {"username": "alice", "password": "correct horse"})["Location"]
    assert re.fullmatch(r"/signin/[\w-]+", step)
    return browser, step


def collect(browser, step):
    """What the page's script does once the long-poll says the phone answered: a POST."""
    return browser.post(step, {"method": "push"})


def number_on(page) -> int:
    return int(re.search(r'id="push-number">(\d+)<', page.content.decode()).group(1))


def test_the_first_request_goes_by_itself_and_a_reload_sends_no_other(waiting):
    browser, step = waiting
    first = browser.get(step)
    assert first.status_code == 200 and PushChallenge.objects.count() == 1
    page = first.content.decode()
    assert 'data-seconds="60"' in page or 'data-seconds="59"' in page  # the countdown
    assert "Signing in as <strong>alice</strong> (Alice A)" in page and "Not you? Cancel" in page
    # Left open, reloaded, or opened again: the same request and number, nothing new sent.
    for _ in range(3):
        assert number_on(browser.get(step)) == number_on(first)
    assert PushChallenge.objects.count() == 1


def test_sending_again_is_a_post_that_redirects_back(waiting):
    browser, step = waiting
    browser.get(step)
    sent = browser.post(step, {"method": "push", "send": "1"})
    assert sent.status_code == 302 and sent["Location"] == step
    assert PushChallenge.objects.count() == 2
    assert PushChallenge.objects.filter(status="pending").count() == 1


def test_a_wrong_number_is_said_plainly_and_no_new_request_is_sent(waiting, phone):
    browser, step = waiting
    shown = number_on(browser.get(step))
    [request] = phone.pending()
    wrong = 10 if shown != 10 else 11
    assert phone.approve(request["id"], wrong) == "wrong_number"
    collect(browser, step)
    page = browser.get(step).content.decode()
    assert "Wrong number" in page and "Send a new request" in page
    assert 'id="push-number"' not in page
    assert PushChallenge.objects.count() == 1
    assert "Wrong number" in browser.get(step).content.decode()  # still, after a reload
    assert PushChallenge.objects.count() == 1


def test_an_expired_request_is_said_plainly(waiting):
    browser, step = waiting
    browser.get(step)
    PushChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    collect(browser, step)
    page = browser.get(step).content.decode()
    assert "expired before it was answered" in page and "Send a new request" in page
    assert PushChallenge.objects.count() == 1


def test_approval_on_the_phone_signs_in_on_the_next_look(waiting, phone):
    browser, step = waiting
    shown = number_on(browser.get(step))
    [request] = phone.pending()
    assert phone.approve(request["id"], shown) == "approved"
    assert collect(browser, step)["Location"] == "http://127.0.0.1:8000/"
    assert "Signed in as Alice A" in browser.get("/").content.decode()


def test_a_denial_is_not_worded_as_a_place_problem(waiting, phone):
    browser, step = waiting
    browser.get(step)
    [request] = phone.pending()
    phone.deny(request["id"])
    refused = collect(browser, step)
    page = refused.content.decode()
    assert refused.status_code == 403 and "Sign-in denied" in page
    assert "can't sign in here" not in page and 'href="/signin"' in page


def test_cancel_ends_the_sign_in_and_withdraws_the_request(waiting, phone):
    browser, step = waiting
    browser.get(step)
    cancelled = browser.post(f"{step}/cancel")
    assert cancelled["Location"] == "/signin"
    assert phone.pending() == []
    gone = browser.get(step)
    assert gone.status_code == 404 and "This sign-in has expired" in gone.content.decode()
