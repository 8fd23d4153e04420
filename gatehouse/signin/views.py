"""Server-rendered sign-in pages: thin views over gatehouse.signin.flow."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from gatehouse.signin import flow as signin_flow
from gatehouse.signin import sessions
from gatehouse.signin.returnto import safe_return_to


@require_http_methods(["GET", "POST"])
def signin_page(request: HttpRequest) -> HttpResponse:
    return_to = safe_return_to(request.POST.get("return_to") or request.GET.get("return_to"))
    context = {"return_to": return_to, "username": ""}
    if request.method == "GET":
        return render(request, "signin/signin.html", context)
    username = request.POST.get("username", "")
    outcome = signin_flow.start(
        signin_flow.Attempt(
            username=username,
            password=request.POST.get("password", ""),
            return_to=return_to,
            client=request.client,
        ),
        current=request.sso,
    )
    context["username"] = username
    if outcome.error == "throttled":
        minutes = max(1, round(outcome.retry_after / 60))
        context["error"] = (
            f"Too many attempts. Wait {outcome.retry_after} seconds "
            f"(about {minutes} minute{'s' if minutes != 1 else ''}) and try again."
        )
        return render(request, "signin/signin.html", context, status=429)
    if outcome.error:
        context["error"] = "The username or password is incorrect."
        return render(request, "signin/signin.html", context, status=401)
    state = signin_flow.describe(outcome.flow)
    if state["status"] == signin_flow.BLOCKED:
        return render(request, "signin/blocked.html", {"state": state}, status=403)
    response = HttpResponseRedirect(state["return_to"])
    sessions.set_cookie(response, outcome.new_session)
    return response


@require_POST
def signout_page(request: HttpRequest) -> HttpResponse:
    if request.sso:
        sessions.end(request.sso, "signed_out")
    response = render(request, "signin/signed_out.html")
    sessions.clear_cookie(response)
    return response


def home_page(request: HttpRequest) -> HttpResponse:
    if not request.sso:
        return HttpResponseRedirect("/signin")
    return render(request, "signin/home.html", {"session": request.sso})


@require_http_methods(["GET", "POST"])
def sessions_page(request: HttpRequest) -> HttpResponse:
    if not request.sso:
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
