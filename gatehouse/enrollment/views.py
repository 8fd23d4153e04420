"""The security-info portal pages (/security-info): thin views over security_info."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from gatehouse.enrollment import security_info
from gatehouse.methods import registry
from gatehouse.signin.models import SignInEvent
from gatehouse.signin.returnto import safe_return_to

PORTAL = "/security-info"


def portal_page(view: Callable) -> Callable:
    """Signed in (fully, or only to register); a refusal becomes a page that explains it."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.sso is None:
            return HttpResponseRedirect("/signin?" + urlencode({"return_to": request.path}))
        try:
            return view(request, *args, **kwargs)
        except security_info.Refused as refusal:
            if refusal.code == "reauthentication_required":
                return HttpResponseRedirect("/signin?" + urlencode({"return_to": PORTAL}))
            return render(
                request, "enrollment/refused.html", {"refusal": refusal}, status=refusal.status
            )

    return wrapper


def _return_to(request: HttpRequest) -> str:
    return safe_return_to(request.GET.get("return_to") or request.POST.get("return_to"))


def _back(request: HttpRequest, **params: str) -> HttpResponse:
    return_to = _return_to(request)
    if return_to:
        params["return_to"] = return_to
    return HttpResponseRedirect(PORTAL + ("?" + urlencode(params) if params else ""))


@portal_page
def overview(request: HttpRequest) -> HttpResponse:
    methods = [registry.describe(m) for m in registry.registered(request.sso.user)]
    recovery = next((m for m in methods if m["kind"] == "recovery_codes"), None)
    context = {
        "apps": [m for m in methods if m["kind"] != "recovery_codes"],
        "recovery": recovery,
        "registering": request.sso.scope == "register",
        "return_to": _return_to(request),
        "notice": request.GET.get("notice", ""),
    }
    return render(request, "enrollment/overview.html", context)


@require_POST
@portal_page
def add_totp(request: HttpRequest) -> HttpResponse:
    enrolment = security_info.begin(
        request.sso, request.client, "totp", request.POST.get("name", "")
    )
    context = {"method": enrolment.method, "show": enrolment.show, "return_to": _return_to(request)}
    return render(request, "enrollment/totp_setup.html", context)


@require_POST
@portal_page
def confirm_totp(request: HttpRequest, method_id: int) -> HttpResponse:
    if security_info.confirm(request.sso, request.client, method_id, request.POST.get("code", "")):
        return _back(request, notice="added")
    context = {
        "method": security_info.method_of(request.sso, method_id),
        "error": "That code is not right. Check the time on your phone and try the newest code.",
        "return_to": _return_to(request),
    }
    return render(request, "enrollment/totp_setup.html", context, status=400)


@require_POST
@portal_page
def recovery_codes(request: HttpRequest) -> HttpResponse:
    enrolment = security_info.begin(request.sso, request.client, "recovery_codes")
    context = {"codes": enrolment.show["codes"], "return_to": _return_to(request)}
    return render(request, "enrollment/recovery_codes.html", context)


@require_POST
@portal_page
def change_method(request: HttpRequest, method_id: int) -> HttpResponse:
    action = request.POST.get("action")
    if action == "remove":
        security_info.remove(request.sso, request.client, method_id)
        return _back(request, notice="removed")
    if action == "default":
        security_info.make_default(request.sso, method_id)
    elif action == "rename":
        security_info.rename(request.sso, method_id, request.POST.get("name", ""))
    return _back(request)


@portal_page
def sign_ins(request: HttpRequest) -> HttpResponse:
    events = SignInEvent.objects.filter(user=request.sso.user)[:50]
    return render(request, "enrollment/sign_ins.html", {"events": events})
