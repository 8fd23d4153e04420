"""The security-info portal pages (/security-info) and the guided set-up of a second way to
sign in (/security-info/setup, "More information required"): thin views over security_info."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from gatehouse import crypto
from gatehouse.enrollment import security_info
from gatehouse.methods import registry, totp
from gatehouse.methods.models import AuthMethod
from gatehouse.signin import log
from gatehouse.signin.models import SignInEvent
from gatehouse.signin.returnto import safe_return_to

PORTAL = "/security-info"
SETUP = "/security-info/setup"
# The set-up's steps, as its pages show them.
STEPS = ("Choose an app", "Set it up", "Done")


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


def return_to(request: HttpRequest) -> str:
    return safe_return_to(request.GET.get("return_to") or request.POST.get("return_to"))


def with_return(request: HttpRequest, path: str, **params: str) -> str:
    """`path`, carrying the page's return_to (where the person goes once done) along."""
    back = return_to(request)
    if back:
        params["return_to"] = back
    return path + ("?" + urlencode(params) if params else "")


def setup_context(request: HttpRequest, step: int, **context) -> dict:
    """What every page of the set-up shows: where it is, and whether it is the interrupt."""
    user = request.sso.user
    first = request.sso.scope == "register" or not registry.has_methods(user)
    return {
        "steps": STEPS,
        "step": step,
        "first": first,
        "return_to": return_to(request),
        **context,
    }


@portal_page
def overview(request: HttpRequest) -> HttpResponse:
    if request.sso.scope == "register":
        # Signed in only to register: the set-up is the one thing to do.
        return HttpResponseRedirect(with_return(request, SETUP))
    methods = [registry.describe(m) for m in registry.registered(request.sso.user)]
    recovery = next((m for m in methods if m["kind"] == "recovery_codes"), None)
    ways = [m for m in methods if m["kind"] != "recovery_codes"]
    context = {
        "ways": ways,
        "default": next((m for m in ways if m["default"]), None),
        "recovery": recovery,
        "return_to": return_to(request),
        "notice": request.GET.get("notice", ""),
    }
    return render(request, "enrollment/overview.html", context)


@portal_page
def setup(request: HttpRequest) -> HttpResponse:
    """Step 1: which app. The Gatehouse Authenticator (approve with a number) first, as
    Microsoft's wizard puts its own app first; any other authenticator app after it."""
    security_info.may_change(request.sso, request.client)
    return render(request, "enrollment/setup_choose.html", setup_context(request, 1))


@require_POST
@portal_page
def setup_totp(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "")
    enrolment = security_info.begin(request.sso, request.client, "totp", name)
    return HttpResponseRedirect(with_return(request, f"{SETUP}/totp/{enrolment.method.id}"))


@require_http_methods(["GET", "POST"])
@portal_page
def setup_totp_step(request: HttpRequest, method_id: int) -> HttpResponse:
    """Step 2 for an authenticator app: the QR code, the link that opens the app on a phone,
    the setup key (kept on the page after a wrong code), and the code that proves it works."""
    method = security_info.method_of(request.sso, method_id)
    if method.confirmed:
        return HttpResponseRedirect(with_return(request, f"{SETUP}/done/{method.id}"))
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "")
        if security_info.confirm(request.sso, request.client, method_id, code):
            return HttpResponseRedirect(with_return(request, f"{SETUP}/done/{method.id}"))
        error = (
            "That code is not right. Check that your phone sets its time automatically, and "
            "type the newest code the app shows."
        )
    security_info.may_change(request.sso, request.client)
    secret = crypto.decrypt(method.secret)
    uri = totp.provisioning_uri(method, secret)
    context = setup_context(
        request,
        2,
        method=method,
        secret=secret,
        secret_groups=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        otpauth_uri=uri,
        qr_svg=totp.qr_svg(uri),
        error=error,
    )
    return render(request, "enrollment/setup_totp.html", context, status=400 if error else 200)


@portal_page
def setup_done(request: HttpRequest, method_id: int) -> HttpResponse:
    """Step 3: only for a method that really is set up (a paired phone, a confirmed app)."""
    method = security_info.method_of(request.sso, method_id)
    if not method.confirmed:
        return HttpResponseRedirect(with_return(request, SETUP))
    has_codes = AuthMethod.objects.filter(user=request.sso.user, kind="recovery_codes").exists()
    context = setup_context(
        request, 3, method=registry.describe(method), has_recovery_codes=has_codes
    )
    return render(request, "enrollment/setup_done.html", context)


@require_POST
@portal_page
def recovery_codes(request: HttpRequest) -> HttpResponse:
    replacing = AuthMethod.objects.filter(user=request.sso.user, kind="recovery_codes").exists()
    if replacing and request.POST.get("confirm") != "yes":
        security_info.may_change(request.sso, request.client)
        return _confirm(
            request,
            "Get new recovery codes?",
            "Your current recovery codes will stop working at once, including any you have "
            "printed or saved. You'll be shown 10 new ones.",
            "Get new codes",
            "/security-info/recovery-codes",
        )
    enrolment = security_info.begin(request.sso, request.client, "recovery_codes")
    codes = enrolment.show["codes"]
    organisation = settings.CONFIG["organisation.name"]
    heading = f"Recovery codes for {request.sso.user.username} at {organisation}"
    context = {
        "codes": codes,
        # A download that needs no script and no second request: the codes are shown once.
        "download": "data:text/plain;charset=utf-8,"
        + quote("\r\n".join([heading, "", *codes, ""])),
        "return_to": return_to(request),
    }
    return render(request, "enrollment/recovery_codes.html", context)


def _confirm(
    request: HttpRequest, title: str, message: str, button: str, to: str, **fields: str
) -> HttpResponse:
    """Ask before doing something that cannot be undone; the same form again, confirmed."""
    context = {
        "title": title,
        "message": message,
        "button": button,
        "action": to,
        "fields": {**fields, "return_to": return_to(request)},
    }
    return render(request, "enrollment/confirm.html", context)


@require_POST
@portal_page
def change_method(request: HttpRequest, method_id: int) -> HttpResponse:
    action = request.POST.get("action")
    if action == "remove":
        method = security_info.method_of(request.sso, method_id)
        if request.POST.get("confirm") != "yes":
            security_info.may_change(request.sso, request.client)
            label = registry.factor(method.kind).label
            return _confirm(
                request,
                f"Remove {label} \u201c{method.name}\u201d?",
                "You won't be able to use it to verify sign-ins any more. To use it again you "
                "would have to set it up again, from a computer at one of our sites.",
                "Remove",
                f"/security-info/methods/{method.id}",
                action="remove",
            )
        security_info.remove(request.sso, request.client, method_id)
        return HttpResponseRedirect(with_return(request, PORTAL, notice="removed"))
    if action == "default":
        security_info.make_default(request.sso, method_id)
    elif action == "rename":
        security_info.rename(request.sso, method_id, request.POST.get("name", ""))
    return HttpResponseRedirect(with_return(request, PORTAL))


@portal_page
def sign_ins(request: HttpRequest) -> HttpResponse:
    events = [
        {
            "time": event.time,
            "app": event.app,
            "where": ", ".join(event.locations) or "Unknown location",
            "ip": event.ip,
            "device": "an organisation computer"
            if event.device.get("kind") == "managed"
            else "a personal device",
            "browser": event.user_agent,
            "result": log.FOR_PEOPLE.get(event.reason, event.reason),
            "ok": event.result == log.SUCCESS,
            "failed": event.result == log.FAILURE,
            "steps": [
                log.STEP_NAMES[step["method"]]
                for step in event.methods
                if step.get("result") == "success" and step.get("method") in log.STEP_NAMES
            ],
        }
        for event in SignInEvent.objects.filter(user=request.sso.user)[:50]
    ]
    return render(request, "enrollment/sign_ins.html", {"events": events})
