"""Gatehouse's own log (stderr): one JSON object per line (`log.format = "json"`) or readable
text, through the standard library's logging, so that Django's and the libraries' records come
out in the same shape as ours (structlog). A record written while a request is answered carries
that request's id (gatehouse.request_log).

Never log a secret: no password, code, token, cookie, flow id, query string or email body."""

from __future__ import annotations

import re
from typing import Any

import structlog

# What looks like a token (a flow id, a pairing token) in a URL path, replaced before a path
# is logged.
TOKENISH = re.compile(r"[A-Za-z0-9_-]{16,}")


def redacted_path(path: str) -> str:
    return TOKENISH.sub("{token}", path[:200])


def _django_request(logger: Any, name: str, event: dict) -> dict:
    """Django's own warnings about 4xx/5xx answers name the path: never with a token in it
    (our request line has the route and status already)."""
    if event.get("logger") == "django.request":
        event["event"] = TOKENISH.sub("{token}", str(event.get("event", "")))
        event.pop("request", None)
    return event


# Added to every record, ours and the standard library's alike.
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
]


def configure(level: str, fmt: str) -> dict:
    """Set structlog up and return Django's LOGGING setting for `level` and `fmt` (json|text)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    if fmt == "json":
        render: list[Any] = [
            # A traceback as text: never the frames' local variables (a password, a code).
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    else:
        render = [structlog.dev.ConsoleRenderer(colors=False)]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "gatehouse": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [*_SHARED, structlog.stdlib.ExtraAdder(), _django_request],
                "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "gatehouse"}},
        "root": {"handlers": ["console"], "level": level},
    }


def get(name: str) -> Any:
    """A structlog logger: `get(__name__).info("event", key=value, ...)`."""
    return structlog.stdlib.get_logger(name)
