"""Text a request may carry into Gatehouse: never NUL, which PostgreSQL cannot store, nor a lone
surrogate, which is not Unicode at all (JSON's "\\ud800" escape makes one; I-JSON, RFC 7493,
forbids them). Such input is refused as a 400 before any view sees it — in the path, the query
string and form fields here, and in JSON bodies by the API's parser."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from ninja.parser import Parser

REFUSAL = "The request contains a NUL character or a lone surrogate, which is not text."


def storable(value: Any) -> bool:
    """Whether every string in `value` (and in its lists, tuples and objects, keys included) is
    text."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(storable(key) and storable(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(storable(item) for item in value)
    return True


JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number"}


class JsonParser(Parser):
    """The API's JSON bodies: objects (every operation's schema says so; the toolkit would
    take the defaults of a body that is a bare number), of text. Anything else is as
    unreadable as malformed JSON (400)."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            kind = JSON_TYPES.get(type(data), "null" if data is None else "true or false")
            raise ValueError(f"it is {kind}, not a JSON object")
        if not storable(data):
            raise ValueError(REFUSAL)
        return data


def refuse_unstorable(get_response):
    """Middleware: a path, query string or form field that is not text is a bad request."""

    def middleware(request: HttpRequest):
        fields = [request.path, *request.GET.lists()]
        if request.method == "POST":
            fields.extend(request.POST.lists())
        if not storable(fields):
            raise BadRequest(REFUSAL)
        return get_response(request)

    return middleware
