"""Server-rendered sign-in pages: thin views over gatehouse.signin.flow."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from gatehouse.access import protected_apps
from gatehouse.signin import flow as signin_flow
from gatehouse.signin import sessions
from gatehouse.signin.app_access import ALLOW, DENY, STEP_UP, app_access
from gatehouse.signin.returnto import safe_return_to


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
    if outcome.error == "directory_unavailable":
        context["error"] = outcome.message
        return render(request, "signin/signin.html", context, status=503)
    if outcome.error:
        context["error"] = "The username or password is incorrect."
        return render(request, "signin/signin.html", context, status=401)
    return _next_page(request, outcome)


def _signed_in(request: HttpRequest, app: str, return_to: str) -> HttpResponse | None:
    """Already signed in: go on, step up, or be refused; None to ask for the password again."""
    access = app_access(request.sso, request.client, app)
    if access.verdict == ALLOW:
        return HttpResponseRedirect(return_to or "/")
    if access.verdict == STEP_UP:
        return _next_page(request, signin_flow.step_up(request.sso, request.client, app, return_to))
    if access.verdict == DENY:
        state = {"message": access.message, "reason": "policy"}
        return render(request, "signin/blocked.html", {"state": state}, status=403)
    return None


def _wait_message(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    plural = "s" if minutes != 1 else ""
    return (
        f"Too many attempts. Wait {seconds} seconds (about {minutes} minute{plural}) and try again."
    )


def _next_page(request: HttpRequest, outcome: signin_flow.Outcome) -> HttpResponse:
    """Where a browser goes once the flow has moved: the app, the next step, or the portal."""
    flow = outcome.flow
    state = signin_flow.describe(flow)
    if state["status"] == signin_flow.AUTHENTICATED:
        response = HttpResponseRedirect(state["return_to"])
    elif outcome.new_session is not None:  # a registration-only session: off to register
        response = HttpResponseRedirect(_portal_url(flow))
    elif state["status"] == signin_flow.BLOCKED:
        response = render(request, "signin/blocked.html", {"state": state}, status=403)
    else:
        response = HttpResponseRedirect(f"/signin/{flow.id}")
    if outcome.new_session is not None:
        sessions.set_cookie(response, outcome.new_session)
    return response


def _portal_url(flow) -> str:
    after = flow.return_to or "/"
    return f"/security-info?{urlencode({'return_to': after})}"


@require_http_methods(["GET", "POST"])
def flow_page(request: HttpRequest, flow_id: str) -> HttpResponse:
    """The steps after the password: second factor, or a registration nudge."""
    flow = signin_flow.get(flow_id)
    if flow is None:
        return HttpResponseRedirect("/signin")
    error = ""
    if request.method == "POST":
        outcome = _step(request, flow)
        if outcome.error is None and outcome.flow.status != signin_flow.MFA_REQUIRED:
            return _next_page(request, outcome)
        error = _code_error(outcome) if outcome.error else ""
    state = signin_flow.describe(flow)
    if state["status"] == signin_flow.BLOCKED:
        return render(request, "signin/blocked.html", {"state": state}, status=403)
    if state["status"] == signin_flow.AUTHENTICATED:
        return HttpResponseRedirect(state["return_to"])
    if state["status"] == signin_flow.REGISTRATION_NUDGE:
        return render(request, "signin/nudge.html", {"state": state, "error": error})
    if state["status"] == signin_flow.REGISTRATION_REQUIRED:
        return HttpResponseRedirect(_portal_url(flow))
    ways = state["methods"]
    chosen = next((w for w in ways if w["method"] == request.GET.get("method")), ways[0])
    context = {"state": state, "chosen": chosen, "others": [w for w in ways if w is not chosen]}
    context["error"] = error
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


def _code_error(outcome: signin_flow.Outcome) -> str:
    if outcome.error == "invalid_code":
        left = outcome.attempts_left
        return f"That code is not right. Check it and try again ({left} attempts left)."
    if outcome.error == "throttled":
        return _wait_message(outcome.retry_after)
    if outcome.error == "factor_locked":
        return "Too many wrong codes. Contact the helpdesk to unlock your sign-in."
    if outcome.message or outcome.error in signin_flow.PUSH_RETRY:
        return outcome.message or signin_flow.PUSH_RETRY[outcome.error]
    return "That did not work; start again."


@require_POST
def signout_page(request: HttpRequest) -> HttpResponse:
    if request.sso:
        sessions.end(request.sso, "signed_out")
    response = render(request, "signin/signed_out.html")
    sessions.clear_cookie(response)
    return response


def home_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/signin")
    return render(request, "signin/home.html", {"session": request.sso})


@require_http_methods(["GET", "POST"])
def sessions_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/signin?return_to=/security-info/sessions")
    if request.method == "POST":
        target = next(
            (s for s in sessions.active_for(request.user) if s.id == request.POST.get("session")),
            None,
        )
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
