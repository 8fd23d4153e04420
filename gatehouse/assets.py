"""Files Gatehouse serves from memory (the authenticator app's, an organisation's logo): read
once, sent with an ETag, answered 304 when the browser already has them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        return cls(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:20]}"')

    def response(self, request: HttpRequest, cache_control: str) -> HttpResponse:
        if request.headers.get("If-None-Match") == self.etag:
            response: HttpResponse = HttpResponseNotModified()
        else:
            response = HttpResponse(self.body, content_type=self.content_type)
        response["ETag"] = self.etag
        response["Cache-Control"] = cache_control
        return response
