"""/metrics for Prometheus (docs/metrics.md): 404 unless metrics.enabled, 401 without the
bearer token metrics.token. What workers counted comes from gatehouse.metrics; what is
measured at the scrape is added here: whether the database and Redis answer, and how many
active users have registered a second factor (one set-based query, remembered a minute)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from gatehouse import metrics
from gatehouse.methods import registry

COVERAGE_SECONDS = 60.0
PING_TIMEOUT = 1.0


@require_GET
def view(request: HttpRequest) -> HttpResponse:
    if not settings.CONFIG["metrics.enabled"]:
        raise Http404
    if not _authorised(request.headers.get("Authorization", "")):
        response = HttpResponse("a bearer token is needed\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="gatehouse-metrics"'
        return response
    return HttpResponse(metrics.exposition(Measured()), content_type=metrics.CONTENT_TYPE)


def _authorised(header: str) -> bool:
    scheme, _, token = header.partition(" ")
    expected = settings.CONFIG["metrics.token"].encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


class Measured:
    """The gauges measured at each scrape."""

    def collect(self) -> Iterator[Metric]:
        database = _database_up()
        yield _gauge("gatehouse_database_up", "1 when the database answers, else 0.", database)
        if settings.CACHE_URL:
            yield _gauge("gatehouse_redis_up", "1 when Redis answers, else 0.", _redis_up())
        counts = _coverage() if database else None
        if counts is not None:
            active, registered = counts
            yield _gauge("gatehouse_users", "Active users.", active)
            yield _gauge(
                "gatehouse_users_registered",
                "Active users with a second factor registered (recovery codes alone do not count).",
                registered,
            )
            yield _gauge(
                "gatehouse_registration_coverage_ratio",
                "gatehouse_users_registered / gatehouse_users (1 when there are no users).",
                registered / active if active else 1.0,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _database_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return False
    return True


_redis_clients: dict[str, Any] = {}  # by URL; a client's pool serves every thread


def _redis_up() -> bool:
    import redis

    url = settings.CACHE_URL
    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_timeout=PING_TIMEOUT, socket_connect_timeout=PING_TIMEOUT
        )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


_coverage_memo: dict[str, tuple[float, tuple[int, int]]] = {}


def _coverage() -> tuple[int, int] | None:
    """(active users, of whom registered), at most COVERAGE_SECONDS old; None when the
    database cannot say."""
    now = time.monotonic()
    known = _coverage_memo.get("counts")
    if known is not None and now - known[0] < COVERAGE_SECONDS:
        return known[1]
    try:
        registered = Q(registry.registration_condition())
        counts = (
            get_user_model()
            .objects.filter(is_active=True)
            .aggregate(active=Count("pk"), registered=Count("pk", filter=registered))
        )
    except Exception:
        return None
    _coverage_memo["counts"] = (now, (counts["active"], counts["registered"]))
    return counts["active"], counts["registered"]
