"""The Security info page that pairs a phone: a one-time link as a QR code, and the phone's
name as soon as it has paired."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from gatehouse.authenticator import pairing
from gatehouse.enrollment import security_info
from gatehouse.enrollment.views import portal_page
from gatehouse.signin.returnto import safe_return_to


@require_POST
@portal_page
def pair_page(request: HttpRequest) -> HttpResponse:
    security_info.may_change(request.sso, request.client)
    link = pairing.new_link(request.sso)
    context = {"link": link, "return_to": safe_return_to(request.POST.get("return_to"))}
    return render(request, "authenticator/pairing.html", context)
