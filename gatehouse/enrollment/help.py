"""Help pages for staff, served by Gatehouse itself: the learning resources the default
configuration links to (learning.get_started, ios_guide, android_guide) from the nudge, the
set-up and Security info. An organisation can point those links at its own pages instead."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

TOPICS = {
    "get-started": "Get started: a second way to sign in",
    "iphone": "Set up on an iPhone",
    "android": "Set up on an Android phone",
}


@require_safe
def page(request: HttpRequest, topic: str) -> HttpResponse:
    if topic not in TOPICS:
        raise Http404(topic)
    context = {"title": TOPICS[topic], "topics": TOPICS, "topic": topic}
    return render(request, f"enrollment/help/{topic}.html", context)
