"""The server-rendered sign-in pages, with CSRF enforced as in production."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gatehouse.signin.models import SSOSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)


def csrf(browser, path="/signin"):
    page = browser.get(path)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def post_signin(browser, username, password, **extra):
    return browser.post(
        "/signin",
        {"csrfmiddlewaretoken": csrf(browser), "username": username, "password": password, **extra},
    )


def test_signin_page_is_accessible_and_names_the_organisation(browser, settings):
    settings.CONFIG.values["organisation"]["name"] = "Riverside Health"
    html = browser.get("/signin").content.decode()
    assert "Riverside Health" in html
    assert '<label for="username">' in html and 'id="username"' in html
    assert 'autocomplete="current-password"' in html
    # Masked, and nothing stops pasting or a password manager (ASVS 6.2.6, 6.2.7).
    assert '<input type="password" id="password"' in html and "paste" not in html
    assert '<html lang="en">' in html and 'name="viewport"' in html


def test_signing_in_redirects_home_with_a_session(browser, alice):
    response = post_signin(browser, "alice", "correct horse")
    assert response.status_code == 302 and response["Location"] == "http://127.0.0.1:8000/"
    assert "Signed in as Alice A" in browser.get("/").content.decode()


@pytest.mark.parametrize(
    ("return_to", "location"),
    [
        ("/security-info/sessions", "/security-info/sessions"),
        ("https://evil.example/", "http://127.0.0.1:8000/"),
    ],
)
def test_return_to_is_followed_only_to_our_own_pages(browser, alice, return_to, location):
    assert (
        post_signin(browser, "alice", "correct horse", return_to=return_to)["Location"] == location
    )


def test_signed_in_visitor_of_the_sign_in_page_goes_on(browser, alice):
    post_signin(browser, "alice", "correct horse")
    assert browser.get("/signin?return_to=/security-info")["Location"] == "/security-info"


def test_wrong_password_shows_an_error_and_keeps_the_username(browser, alice):
    response = post_signin(browser, "alice", "nope")
    html = response.content.decode()
    assert response.status_code == 401
    assert 'role="alert"' in html and "incorrect" in html
    assert 'value="alice"' in html


def test_post_without_csrf_token_is_refused(browser, alice):
    response = browser.post("/signin", {"username": "alice", "password": "correct horse"})
    assert response.status_code == 403
    assert not SSOSession.objects.exists()


def test_lockout_is_explained_on_the_page(browser, alice):
    for i in range(10):
        post_signin(browser, "alice", f"wrong {i}")
    response = post_signin(browser, "alice", "correct horse")
    assert response.status_code == 429
    assert "Too many attempts. Wait 60 seconds" in response.content.decode()


def test_disabled_user_sees_the_helpdesk(browser, make_user, settings):
    make_user("dave", "correct horse", is_active=False)
    response = post_signin(browser, "dave", "correct horse")
    assert response.status_code == 403
    assert settings.CONFIG["organisation.helpdesk"] in response.content.decode()


def test_home_without_a_session_goes_to_sign_in(browser):
    assert browser.get("/")["Location"] == "/signin"


def test_sign_out(browser, alice):
    post_signin(browser, "alice", "correct horse")
    token = csrf(browser, "/")
    response = browser.post("/signout", {"csrfmiddlewaretoken": token})
    assert "You have signed out" in response.content.decode()
    assert browser.get("/")["Location"] == "/signin"


def test_sessions_page_lists_and_ends_sessions(browser, alice):
    other = Client()
    other.post("/signin", {"username": "alice", "password": "correct horse"})
    post_signin(browser, "alice", "correct horse")
    html = browser.get("/security-info/sessions").content.decode()
    assert html.count('name="session"') == 2 and "this browser" in html
    other_id = SSOSession.objects.filter(ended_at__isnull=True).order_by("created_at").first().id
    token = csrf(browser, "/security-info/sessions")
    browser.post("/security-info/sessions", {"csrfmiddlewaretoken": token, "session": other_id})
    assert other.get("/")["Location"] == "/signin"
    assert browser.get("/").status_code == 200


def test_ending_this_browsers_own_session_from_the_page_signs_it_out(browser, alice):
    from django.conf import settings

    post_signin(browser, "alice", "correct horse")
    own = SSOSession.objects.get(ended_at__isnull=True)
    token = csrf(browser, "/security-info/sessions")
    ended = browser.post(
        "/security-info/sessions", {"csrfmiddlewaretoken": token, "session": own.id}
    )
    assert ended["Location"] == "/signin"
    assert ended.cookies[settings.SESSION_COOKIE_NAME].value == ""
    own.refresh_from_db()
    assert own.ended_reason == "ended_by_user"


def test_health_endpoints(browser):
    assert browser.get("/healthz").json() == {"status": "ok"}
    assert browser.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_ending_another_session_from_the_page_asks_for_the_password_after_ten_minutes(
    browser, alice
):
    other = Client()
    other.post("/signin", {"username": "alice", "password": "correct horse"})
    post_signin(browser, "alice", "correct horse")
    other_id = SSOSession.objects.filter(ended_at__isnull=True).order_by("created_at").first().id
    SSOSession.objects.update(auth_time=timezone.now() - timedelta(minutes=11))
    token = csrf(browser, "/security-info/sessions")
    asked = browser.post(
        "/security-info/sessions", {"csrfmiddlewaretoken": token, "session": other_id}
    )
    assert asked["Location"] == "/signin?prompt=login&return_to=/security-info/sessions"
    assert other.get("/").status_code == 200
