"""Forward auth (DESIGN §5.4), the Authelia contract, through Django's test client."""

import pytest
from django.test import Client

from gatehouse import clock, hotpath
from gatehouse.access import policies, protected_apps
from gatehouse.access.policyfile import policy_from_dict
from gatehouse.providers import forward_auth
from tests.conftest import HOME, OFFICE, totp_code

pytestmark = pytest.mark.django_db
SIGNIN = "http://127.0.0.1:8000/signin"


@pytest.fixture
def webmail(trust_sites):
    return protected_apps.save("test", "webmail", "forward_auth", hosts=["mail.example.org"])


def put_policy(**document):
    policies.save(policy_from_dict({"state": "on", **document}), actor="test")


def signed_in(username="alice", password="correct horse", ip=OFFICE) -> Client:
    browser = Client(HTTP_X_FORWARDED_FOR=ip)
    browser.post("/signin", {"username": username, "password": password})
    return browser


def traefik(browser, uri="/inbox?x=1", method="GET", host="mail.example.org", ip=OFFICE, **headers):
    return browser.get(
        "/api/authz/forward-auth",
        HTTP_X_FORWARDED_METHOD=method,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST=host,
        HTTP_X_FORWARDED_URI=uri,
        HTTP_X_FORWARDED_FOR=ip,
        **headers,
    )


def nginx(browser, url="https://mail.example.org/inbox", method="GET", ip=OFFICE):
    return browser.get(
        "/api/authz/auth-request",
        HTTP_X_ORIGINAL_METHOD=method,
        HTTP_X_ORIGINAL_URL=url,
        HTTP_X_FORWARDED_FOR=ip,
    )


HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}


def test_signed_in_user_gets_identity_headers(alice, webmail):
    response = traefik(signed_in(), **HTML)
    assert response.status_code == 200
    assert response["Remote-User"] == "alice"
    assert response["Remote-Groups"] == "Clinical staff"
    assert response["Remote-Name"] == "Alice A"
    assert response["Remote-Email"] == "alice@example.org"
    assert nginx(signed_in()).status_code == 200


@pytest.mark.parametrize(("method", "status"), [("GET", 302), ("HEAD", 302), ("POST", 303)])
def test_anonymous_browser_is_redirected_to_sign_in(webmail, method, status):
    response = traefik(Client(), method=method, **HTML)
    assert response.status_code == status
    assert response["Location"] == (
        f"{SIGNIN}?rd=https%3A%2F%2Fmail.example.org%2Finbox%3Fx%3D1&rm={method}"
    )


def test_xhr_and_non_html_get_401_with_location(webmail):
    assert traefik(Client(), HTTP_X_REQUESTED_WITH="XMLHttpRequest", **HTML).status_code == 401
    response = traefik(Client(), HTTP_ACCEPT="application/json")
    assert response.status_code == 401 and response["Location"].startswith(SIGNIN)


def test_auth_request_always_answers_401_with_location(webmail):
    response = nginx(Client(), method="POST")
    assert response.status_code == 401
    assert response["Location"] == f"{SIGNIN}?rd=https%3A%2F%2Fmail.example.org%2Finbox&rm=POST"


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "mail.example.org"},
        {
            "HTTP_X_FORWARDED_METHOD": "GET",
            "HTTP_X_FORWARDED_HOST": "mail.example.org",
            "HTTP_X_FORWARDED_URI": "/",
        },
        {
            "HTTP_X_FORWARDED_METHOD": "BREW",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "m",
            "HTTP_X_FORWARDED_URI": "/",
        },
        {
            "HTTP_X_FORWARDED_METHOD": "GET",
            "HTTP_X_FORWARDED_PROTO": "gopher",
            "HTTP_X_FORWARDED_HOST": "m",
            "HTTP_X_FORWARDED_URI": "/",
        },
        {
            "HTTP_X_FORWARDED_METHOD": "GET",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "a@b",
            "HTTP_X_FORWARDED_URI": "/",
        },
    ],
)
def test_missing_or_bad_metadata_is_400(webmail, headers):
    assert Client().get("/api/authz/forward-auth", **headers).status_code == 400


@pytest.mark.parametrize("url", ["", "not a url", "https:///nohost", "ftp://mail.example.org/"])
def test_bad_original_url_is_400(webmail, url):
    assert nginx(Client(), url=url).status_code == 400


def test_unknown_host_is_refused(alice, webmail):
    assert traefik(signed_in(), host="intranet.example.org", **HTML).status_code == 403


def test_more_factors_needed_sends_to_step_up(alice, webmail, with_totp):
    secret = with_totp(alice)
    put_policy(
        id="mfa-outside",
        conditions={"users": {"include": "all"}, "locations": {"exclude": "trusted"}},
        grant={"require": ["mfa"]},
    )
    browser = signed_in(ip=OFFICE)
    assert traefik(browser, ip=OFFICE, **HTML).status_code == 200
    # The same session from home needs a second factor for the app: step up, not through.
    away = traefik(browser, ip=HOME, **HTML)
    assert away.status_code == 302 and away["Location"].startswith(SIGNIN)
    step = browser.get(
        away["Location"].removeprefix("http://127.0.0.1:8000"), HTTP_X_FORWARDED_FOR=HOME
    )["Location"]
    done = browser.post(
        step, {"method": "totp", "code": totp_code(secret)}, HTTP_X_FORWARDED_FOR=HOME
    )
    assert done["Location"] == "https://mail.example.org/inbox?x=1"
    assert traefik(browser, ip=HOME, **HTML).status_code == 200


def test_blocked_by_policy_is_403(alice, webmail):
    put_policy(
        id="no-mail",
        conditions={"users": {"include": "all"}, "apps": {"include": ["webmail"]}},
        grant={"block": True},
    )
    assert traefik(signed_in(), **HTML).status_code == 403
    assert nginx(signed_in()).status_code == 403


def test_registration_only_session_is_not_signed_in(alice, webmail, mfa_everywhere):
    browser = signed_in()  # no method, MFA required: a session for registering only
    assert traefik(browser, **HTML).status_code == 302


def test_sign_out_ends_access_at_once(alice, webmail):
    browser = signed_in()
    assert traefik(browser, **HTML).status_code == 200
    browser.post("/signout")
    assert traefik(browser, **HTML).status_code == 302


def test_disabled_user_loses_access_at_once(alice, webmail):
    browser = signed_in()
    assert traefik(browser, **HTML).status_code == 200
    alice.is_active = False
    alice.save()
    assert traefik(browser, **HTML).status_code == 302


def test_cookie_domain_lets_one_sign_in_serve_every_host(alice, settings):
    settings.CONFIG.values["server"]["cookie_domain"] = "example.org"
    try:
        response = Client().post("/signin", {"username": "alice", "password": "correct horse"})
        assert response.cookies["gatehouse_session"]["domain"] == "example.org"
    finally:
        settings.CONFIG.values["server"]["cookie_domain"] = ""


def test_allowed_path_runs_at_most_one_query_once_warm(
    alice, webmail, django_assert_max_num_queries
):
    browser = signed_in()
    traefik(browser, **HTML)  # warm the session and access caches
    # At most the once-a-second check for changes made by other processes; usually none.
    for _ in range(20):
        with django_assert_max_num_queries(1):
            assert traefik(browser, **HTML).status_code == 200


def test_a_warm_allowed_answer_runs_no_query_at_all(alice, webmail, django_assert_num_queries):
    # On a clock that stands still the once-a-second check for other processes' changes never
    # comes due: what is left is the answer itself, which must need no query.
    with clock.frozen():
        browser = signed_in()
        traefik(browser, **HTML)  # warm the session, access and answer memos
        for _ in range(20):
            with django_assert_num_queries(0):
                assert traefik(browser, **HTML).status_code == 200
        # As gatehouse.asgi asks it, on the event loop: answered without needing to block.
        header = hotpath.meta_header_reader(
            {
                "HTTP_COOKIE": f"gatehouse_session={browser.cookies['gatehouse_session'].value}",
                "HTTP_X_FORWARDED_METHOD": "GET",
                "HTTP_X_FORWARDED_PROTO": "https",
                "HTTP_X_FORWARDED_HOST": "mail.example.org",
                "HTTP_X_FORWARDED_URI": "/inbox?x=1",
                "HTTP_X_FORWARDED_FOR": OFFICE,
                **HTML,
            }
        )
        with django_assert_num_queries(0):
            answer = hotpath.without_blocking(
                lambda: forward_auth.answer(forward_auth.FORWARD_AUTH, "GET", header, "127.0.0.1")
            )
        assert answer.status == 200 and answer.headers["Remote-User"] == "alice"
