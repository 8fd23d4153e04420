"""The request log's id: a trusted proxy's X-Request-ID is kept, anyone else's is not."""

import asyncio
import re

from gatehouse.request_log import RequestLog


async def _answer(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def answered_id(trusted: bool, header: bytes) -> str:
    sent = []

    async def send(message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "headers": [(b"x-request-id", header)],
        "client": ("192.0.2.1", 5000),
    }
    asyncio.run(RequestLog(_answer, lambda peer: trusted)(scope, None, send))
    return dict(sent[0]["headers"])[b"x-request-id"].decode()


def test_a_trusted_proxys_request_id_is_kept():
    assert answered_id(True, b"nginx-0af3") == "nginx-0af3"


def test_a_request_id_from_anyone_else_is_replaced():
    made_up = answered_id(False, b"nginx-0af3")
    assert made_up != "nginx-0af3" and re.fullmatch(r"[0-9a-f]{16}", made_up)
