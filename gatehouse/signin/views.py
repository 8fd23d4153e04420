"""Server-rendered sign-in pages: thin views over gatehouse.signin.flow."""

from __future__ import annotations

import hashlib
from datetime import date
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from gatehouse import errors
from gatehouse.access import protected_apps
from gatehouse.access.models import ProtectedApp
from gatehouse.enrollment import campaign
from gatehouse.hotpath import meta_header_reader
from gatehouse.methods import registry
from gatehouse.signin import flow as signin_flow
from gatehouse.signin import frontdoor, sessions, whoami
from gatehouse.signin.app_access import ALLOW, DENY, STEP_UP
from gatehouse.signin.flowstate import Event
from gatehouse.signin.frontdoor import Arrival
from gatehouse.signin.returnto import safe_return_to

# A browser sent on to the same place this many times within LOOP_WINDOW seconds, each time
# coming straight back signed in, is in a loop: the app refuses what Gatehouse allows.
LOOP_COOKIE, LOOP_LIMIT, LOOP_WINDOW = "gatehouse_loop", 3, 60


@require_http_methods(["GET", "POST"])
def signin_page(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    # `rd` is what forward-auth proxies send (the Authelia contract); `return_to` our own.
    return_to = safe_return_to(params.get("return_to") or params.get("rd"))
    app = protected_apps.app_for(params.get("app", ""), return_to)
    context = {"return_to": return_to, "app": app, "username": ""}
    if request.method == "GET":
        if request.user.is_authenticated:
            # prompt=login: an app (OIDC prompt=login or max_age) wants the password again.
            fresh = request.GET.get("prompt") == "login"
            signed_in = None if fresh else _signed_in(request, app, return_to)
            if signed_in is not None:
                return signed_in
            context["notice"] = "Sign in again to continue."
        return render(request, "signin/signin.html", context)
    username = request.POST.get("username", "")
    arrival = Arrival(request.client, app, return_to=return_to)
    outcome = frontdoor.sign_in(arrival, username, request.POST.get("password", ""), request.sso)
    context["username"] = username
    if isinstance(outcome, signin_flow.Refused):
        context["error"] = signin_flow.explain(outcome)
        status = SIGN_IN_REFUSED.get(outcome.error, 401)
        response = render(request, "signin/signin.html", context, status=status)
        if outcome.retry_after is not None and status == 503:
            response["Retry-After"] = str(outcome.retry_after)
        return response
    return _next_page(request, outcome)


# The page's status for a refused password step (any other refusal: 401).
SIGN_IN_REFUSED = {"throttled": 429, "directory_unavailable": 503, "busy": 503}


def _signed_in(request: HttpRequest, app: str, return_to: str) -> HttpResponse | None:
    """Already signed in: go on, step up, or be refused; None to ask for the password again.
    Nothing here sends the browser on to where it will only be sent back from (the loop
    guard): a session that cannot open the app gets a page that says why."""
    arrival = Arrival(request.client, app, return_to=return_to)
    access = frontdoor.may_enter(request.sso, arrival)
    if access.verdict == ALLOW:
        return _go_on(request, return_to or "/", app)
    if access.verdict == STEP_UP:
        outcome = frontdoor.step_up(request.sso, arrival)
        if isinstance(outcome, signin_flow.Refused):
            return None
        state = signin_flow.describe(outcome.flow)
        let_in = state["status"] == signin_flow.AUTHENTICATED and "register_url" not in state
        if let_in and isinstance(outcome, signin_flow.SignedIn):
            # Let in at once (a snooze in force): on, through the loop guard.
            response = _go_on(request, state["return_to"], app)
            sessions.set_cookie(response, outcome.new_session)
            return response
        return _next_page(request, outcome)
    if access.verdict == DENY:
        state = {"message": access.message, "reason": access.reason or "policy_block"}
        return _refused(request, state, app)
    return None


def _go_on(request: HttpRequest, target: str, app: str) -> HttpResponse:
    key = hashlib.sha256(target.encode()).hexdigest()[:16]
    count, _, seen = request.COOKIES.get(LOOP_COOKIE, "").partition(".")
    count = int(count) + 1 if count.isdigit() and seen == key else 1
    if count > LOOP_LIMIT:
        response = _cannot_open(request, app, target)
        response.delete_cookie(LOOP_COOKIE)
        return response
    response = HttpResponseRedirect(target)
    response.set_cookie(
        LOOP_COOKIE,
        f"{count}.{key}",
        max_age=LOOP_WINDOW,
        secure=settings.SECURE_COOKIES,
        httponly=True,
        samesite="Lax",
    )
    return response


def _cannot_open(request: HttpRequest, app: str, target: str) -> HttpResponse:
    """The loop guard's page: signed in, yet the app keeps sending the browser back."""
    name = app or urlsplit(target).netloc or "This page"
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    return errors.page(
        request,
        409,
        f"{name} can't be opened from here",
        f"You are signed in, but {name} keeps sending you back to sign in: it sees this "
        "connection differently from the sign-in service (for example, through another "
        f"network). Try again in a few minutes; if it keeps happening, contact {helpdesk}.",
        [{"url": "/", "text": "Go to your apps"}, {"url": target, "text": "Try again"}],
        reference="sign_in_loop",
    )


def _next_page(request: HttpRequest, outcome: signin_flow.MovedOn) -> HttpResponse:
    """Where a browser goes once the flow has moved: the app, the next step, or registering."""
    flow = outcome.flow
    state = signin_flow.describe(flow)
    new_session = outcome.new_session if isinstance(outcome, signin_flow.SignedIn) else None
    if state["status"] == signin_flow.BLOCKED:
        response = _refused(request, state, flow.app)
    elif "register_url" in state and new_session is not None:
        # Registering comes next: after a Temporary Access Pass, "set it up now", or a
        # registration interrupt (a session that may only register).
        response = HttpResponseRedirect(register_url(state["register_url"], flow.return_to))
    elif state["status"] == signin_flow.AUTHENTICATED:
        response = HttpResponseRedirect(state["return_to"])
    else:
        response = HttpResponseRedirect(f"/signin/{flow.id}")
    if new_session is not None:
        sessions.set_cookie(response, new_session)
    return response


def register_url(base: str, return_to: str) -> str:
    return f"{base}?{urlencode({'return_to': return_to or '/'})}"


# Per refusal: a heading that says what happened (the message says why and what to do).
REFUSED = {
    "push_denied": "Sign-in denied",
    "fraud_reported": "Sign-in reported as not you",
    "account_disabled": "Your account is disabled",
    "policy_block": "You can't open this from here",
    "managed_device_required": "Use one of the organisation's computers",
    "mfa_registration_required": "Set up a second way to sign in first",
}


def _refused(request: HttpRequest, state: dict, app: str) -> HttpResponse:
    context = {
        "state": state,
        "title": REFUSED.get(state["reason"], "You can't sign in here"),
        "app": app,
    }
    return render(request, "signin/blocked.html", context, status=403)


def _flow_gone(request: HttpRequest) -> HttpResponse:
    return errors.page(
        request,
        404,
        "This sign-in has expired",
        "Sign-ins must be finished within 10 minutes, and this one is over (or the link is "
        "not right). Start again: nothing was lost.",
        [errors.SIGN_IN],
    )


@require_http_methods(["GET", "POST"])
def flow_page(request: HttpRequest, flow_id: str) -> HttpResponse:
    """The steps after the password: second factor, or a registration nudge. Answers to forms
    redirect back here (post/redirect/get), so a reload or a page left open repeats nothing;
    only a wrong code is shown as the form's answer."""
    flow = signin_flow.get(flow_id)
    if flow is None:
        return _flow_gone(request)
    if request.method == "POST":
        outcome = _step(request, flow)
        if isinstance(outcome, signin_flow.Refused):
            if outcome.error in SHOWN_ON_THE_FORM:
                return _second_factor(request, flow, signin_flow.explain(outcome))
        elif outcome.flow.status != signin_flow.MFA_REQUIRED:
            return _next_page(request, outcome)
        return HttpResponseRedirect(request.get_full_path())
    # Reading changes nothing: a phone's answer is taken by the page's POST (push-wait.js).
    return _flow_state_page(request, flow)


# Refusals shown as the form's answer; after any other, the page is shown afresh.
SHOWN_ON_THE_FORM = frozenset({"invalid_code", "throttled"})


def _flow_state_page(request: HttpRequest, flow) -> HttpResponse:
    state = signin_flow.describe(flow)
    if state["status"] == signin_flow.BLOCKED:
        return _refused(request, state, flow.app)
    if state["status"] == signin_flow.AUTHENTICATED:
        return HttpResponseRedirect(state["return_to"])
    if state["status"] == signin_flow.REGISTRATION_NUDGE:
        deadline = date.fromisoformat(state["deadline"]) if state.get("deadline") else None
        context = {"state": state, "app": flow.app, "deadline": deadline}
        return render(request, "signin/nudge.html", context)
    if state["status"] == signin_flow.REGISTRATION_REQUIRED:
        return HttpResponseRedirect(register_url(signin_flow.REGISTER_URL, flow.return_to))
    return _second_factor(request, flow)


def _second_factor(request: HttpRequest, flow, error: str = "") -> HttpResponse:
    ways = [way.to_json() for way in signin_flow.state_of(flow).methods]
    chosen = next((w for w in ways if w["method"] == request.GET.get("method")), ways[0])
    factor = registry.by_verify_name(chosen["method"])
    ask = factor.begin_challenge(flow.user) if factor else {"approval": False, "prompt": ""}
    if ask["approval"] and not error:
        # The first request goes out by itself when the way chosen is approved on a phone.
        frontdoor.go_on(flow, Event.AUTO_PUSH)
    state = signin_flow.describe(flow)
    push = state.get("push")
    context = {
        "state": state,
        "push_seconds": max(0, round((push["expires_at"] - timezone.now()).total_seconds()))
        if push
        else 0,
        "flow": flow,
        "chosen": chosen,
        "ask": ask,
        "others": [w for w in ways if w is not chosen],
        "error": error,
    }
    return render(request, "signin/second_factor.html", context, status=400 if error else 200)


def _step(request: HttpRequest, flow) -> signin_flow.Outcome:
    """The form's step: a nudge answer, a push (send, or see what became of it), or a code."""
    post = request.POST
    if "action" in post:
        return frontdoor.nudge(flow, post["action"], request.sso)
    method, code = post.get("method", ""), post.get("code", "")
    factor = registry.by_verify_name(method)
    if factor is not None and factor.approved_on_device:
        return frontdoor.go_on(
            flow, Event.PUSH if "send" in post else Event.COLLECT_PUSH, request.sso
        )
    return frontdoor.go_on(flow, Event.VERIFY, request.sso, method, code)


@require_POST
def cancel_page(request: HttpRequest, flow_id: str) -> HttpResponse:
    """ "Not you? Cancel": the sign-in ends, and the sign-in page is shown afresh."""
    flow = signin_flow.get(flow_id)
    query = {}
    if flow is not None:
        frontdoor.go_on(flow, Event.CANCEL)
        query = {k: v for k, v in (("return_to", flow.return_to), ("app", flow.app)) if v}
    return HttpResponseRedirect("/signin" + ("?" + urlencode(query) if query else ""))


@require_POST
def signout_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "signin/signed_out.html")
    sessions.sign_out(request.sso, response)
    return response


def home_page(request: HttpRequest) -> HttpResponse:
    """My apps: the apps this person can open from here, their security info, and what the
    registration campaign still asks of them."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/signin")
    user = request.user
    scheme = urlsplit(settings.PUBLIC_URL).scheme
    apps = []
    for app in ProtectedApp.objects.all():
        access = frontdoor.may_enter(request.sso, Arrival(request.client, app.name))
        url = protected_apps.launch_url(app, scheme)
        if access.verdict != DENY and url:
            apps.append({"name": app.name, "url": url, "step_up": access.verdict == STEP_UP})
    methods = [registry.describe(m) for m in registry.registered(user)]
    context = {
        "session": request.sso,
        "apps": apps,
        "default_method": next((m for m in methods if m["default"]), None),
        "registration": campaign.reminder_for(user) if not registry.has_methods(user) else None,
    }
    if user.is_staff:  # administrators see what Gatehouse makes of their request
        peer = request.META.get("REMOTE_ADDR", "")
        context["seen"] = whoami.seen(peer, meta_header_reader(request.META))
    return render(request, "signin/home.html", context)


@require_http_methods(["GET", "POST"])
def sessions_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/signin?return_to=/security-info/sessions")
    if request.method == "POST":
        ended = sessions.end_mine(request.sso, request.POST.get("session"))
        if ended is sessions.EndMine.REAUTHENTICATE:
            return HttpResponseRedirect("/signin?prompt=login&return_to=/security-info/sessions")
        if ended is sessions.EndMine.ENDED_CURRENT:
            response = HttpResponseRedirect("/signin")
            sessions.clear_cookie(response)
            return response
        return HttpResponseRedirect("/security-info/sessions")
    return render(
        request,
        "signin/sessions.html",
        {"sessions": sessions.active_for(request.user), "current": request.sso},
    )
