"""The set-up step that pairs a phone with the Gatehouse Authenticator: a one-time link as a QR
code on a page of its own address (so a reload shows the same code), which moves on to "Done"
only once the phone has really paired."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from gatehouse.authenticator import pairing
from gatehouse.enrollment import security_info
from gatehouse.enrollment.views import SETUP, portal_page, setup_context, with_return


@require_POST
@portal_page
def setup_push(request: HttpRequest) -> HttpResponse:
    security_info.may_change(request.sso, request.client)
    link = pairing.new_link(request.sso)
    return HttpResponseRedirect(with_return(request, f"{SETUP}/push/{link.id}"))


@portal_page
def setup_push_step(request: HttpRequest, link_id: int) -> HttpResponse:
    status, method = security_info.pairing_status(request.sso, link_id)
    if status == pairing.PAIRED and method is not None:
        return HttpResponseRedirect(with_return(request, f"{SETUP}/done/{method.id}"))
    link = pairing.unused_link(request.sso, link_id) if status == pairing.WAITING else None
    context = setup_context(
        request,
        2,
        link=link,
        expired=link is None,
        # "I've paired it" came back here: the phone has not paired (yet).
        not_yet=request.GET.get("checked") == "1",
    )
    return render(request, "authenticator/pairing.html", context)
