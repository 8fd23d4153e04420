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
from gatehouse.signin import sessions, whoami
from gatehouse.signin.app_access import ALLOW, DENY, STEP_UP, app_access
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
    outcome = signin_flow.start(
        signin_flow.Attempt(
            username=username,
            password=request.POST.get("password", ""),
            app=app,
            return_to=return_to,
            client=request.client,
        ),
        current=request.sso,
    )
    context["username"] = username
    if outcome.error == "throttled":
        context["error"] = _wait_message(outcome.retry_after)
        return render(request, "signin/signin.html", context, status=429)
    if outcome.error in {"directory_unavailable", "busy"}:
        context["error"] = outcome.message
        response = render(request, "signin/signin.html", context, status=503)
        if outcome.retry_after is not None:
            response["Retry-After"] = str(outcome.retry_after)
        return response
    if outcome.error:
        context["error"] = "The username or password is incorrect."
        return render(request, "signin/signin.html", context, status=401)
    return _next_page(request, outcome)


def _signed_in(request: HttpRequest, app: str, return_to: str) -> HttpResponse | None:
    """Already signed in: go on, step up, or be refused; None to ask for the password again.
    Nothing here sends the browser on to where it will only be sent back from (the loop
    guard): a session that cannot open the app gets a page that says why."""
    access = app_access(request.sso, request.client, app)
    if access.verdict == ALLOW:
        return _go_on(request, return_to or "/", app)
    if access.verdict == STEP_UP:
        outcome = signin_flow.step_up(request.sso, request.client, app, return_to)
        state = signin_flow.describe(outcome.flow)
        if state["status"] == signin_flow.AUTHENTICATED and "register_url" not in state:
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


def _wait_message(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    plural = "s" if minutes != 1 else ""
    return (
        f"Too many attempts. Wait {seconds} seconds (about {minutes} minute{plural}) and try again."
    )


def _next_page(request: HttpRequest, outcome: signin_flow.Outcome) -> HttpResponse:
    """Where a browser goes once the flow has moved: the app, the next step, or registering."""
    flow = outcome.flow
    state = signin_flow.describe(flow)
    if state["status"] == signin_flow.BLOCKED:
        response = _refused(request, state, flow.app)
    elif "register_url" in state and outcome.new_session is not None:
        # Registering comes next: after a Temporary Access Pass, "set it up now", or a
        # registration interrupt (a session that may only register).
        response = HttpResponseRedirect(register_url(state["register_url"], flow.return_to))
    elif state["status"] == signin_flow.AUTHENTICATED:
        response = HttpResponseRedirect(state["return_to"])
    else:
        response = HttpResponseRedirect(f"/signin/{flow.id}")
    if outcome.new_session is not None:
        sessions.set_cookie(response, outcome.new_session)
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
        if outcome.error == "invalid_code" or outcome.error == "throttled":
            return _second_factor(request, outcome.flow, _code_error(outcome))
        if outcome.error is None and outcome.flow.status != signin_flow.MFA_REQUIRED:
            return _next_page(request, outcome)
        return HttpResponseRedirect(request.get_full_path())
    # Whatever became of a push (approved, a wrong number, expired) shows on this page.
    outcome = signin_flow.collect_push(flow, request.sso)
    if outcome.new_session is not None:
        return _next_page(request, outcome)
    return _flow_state_page(request, outcome.flow)


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
    ways = flow.data["methods"]
    chosen = next((w for w in ways if w["method"] == request.GET.get("method")), ways[0])
    if chosen["method"] == "push" and not error:
        # The first request goes out by itself when push is the way chosen: no extra click.
        signin_flow.start_push(flow, automatic=True)
    state = signin_flow.describe(flow)
    push = state.get("push")
    context = {
        "state": state,
        "push_seconds": max(0, round((push["expires_at"] - timezone.now()).total_seconds()))
        if push
        else 0,
        "flow": flow,
        "chosen": chosen,
        "others": [w for w in ways if w is not chosen],
        "error": error,
    }
    return render(request, "signin/second_factor.html", context, status=400 if error else 200)


def _step(request: HttpRequest, flow) -> signin_flow.Outcome:
    """The form's step: a nudge answer, a push (send, or see what became of it), or a code."""
    post = request.POST
    if "action" in post:
        return signin_flow.nudge(flow, post["action"], request.sso)
    if post.get("method") == "push":
        if "send" in post:
            return signin_flow.start_push(flow)
        return signin_flow.collect_push(flow, request.sso)
    return signin_flow.verify(flow, post.get("method", ""), post.get("code", ""), request.sso)


# Attempts left are worth saying only when few are.
FEW_ATTEMPTS = 5


def _code_error(outcome: signin_flow.Outcome) -> str:
    if outcome.error == "throttled":
        return _wait_message(outcome.retry_after)
    if outcome.message:
        return outcome.message
    left = outcome.attempts_left
    warning = f" {left} attempt{'s' if left != 1 else ''} left." if left <= FEW_ATTEMPTS else ""
    return f"That code is not right. Check it and try again.{warning}"


@require_POST
def cancel_page(request: HttpRequest, flow_id: str) -> HttpResponse:
    """ "Not you? Cancel": the sign-in ends, and the sign-in page is shown afresh."""
    flow = signin_flow.get(flow_id)
    query = {}
    if flow is not None:
        signin_flow.cancel(flow)
        query = {k: v for k, v in (("return_to", flow.return_to), ("app", flow.app)) if v}
    return HttpResponseRedirect("/signin" + ("?" + urlencode(query) if query else ""))


@require_POST
def signout_page(request: HttpRequest) -> HttpResponse:
    if request.sso:
        sessions.end(request.sso, "signed_out")
    response = render(request, "signin/signed_out.html")
    sessions.clear_cookie(response)
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
        access = app_access(request.sso, request.client, app.name)
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
        target = next(
            (s for s in sessions.active_for(request.user) if s.id == request.POST.get("session")),
            None,
        )
        mine = target is not None and target.id == request.sso.id
        if target is not None and not mine and not sessions.recently_signed_in(request.sso):
            return HttpResponseRedirect("/signin?prompt=login&return_to=/security-info/sessions")
        if target is not None:
            sessions.end(target, "ended_by_user")
            if target.id == request.sso.id:
                response = HttpResponseRedirect("/signin")
                sessions.clear_cookie(response)
                return response
        return HttpResponseRedirect("/security-info/sessions")
    return render(
        request,
        "signin/sessions.html",
        {"sessions": sessions.active_for(request.user), "current": request.sso},
    )
