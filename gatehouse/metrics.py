"""Gatehouse's Prometheus metrics (docs/metrics.md): every one defined here, each counted by a
one-line call where it happens. Imports nothing of Gatehouse's, so any layer may count.

With several workers (`gatehouse serve --workers N`) each process writes its counts to files
in PROMETHEUS_MULTIPROC_DIR, which `gatehouse serve` makes (empty) before the workers start;
a scrape of any worker adds up all of them (prometheus_client's multiprocess mode). Without
it (tests, `gatehouse demo`) the counts live in the process.

Label values come only from fixed sets — never a username, an address or a URL — so the
number of series stays bounded whatever the traffic; a value outside its set is counted as
"other"."""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"  # gatehouse.metrics_folder sets it
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OTHER = "other"
# As in multiprocess mode, in every mode: no *_created samples beside the counts.
disable_created_metrics()

# What each label may say (anything else is "other").
RESULTS = frozenset({"success", "failure", "interrupted"})
REQUIREMENTS = frozenset({"single_factor", "multi_factor"})
CLIENT_TYPES = frozenset({"browser", "modern", "legacy"})
SECOND_FACTORS = frozenset({"totp", "push", "recovery_code", "tap"})
FACTOR_RESULTS = frozenset(
    {"success", "failure", "used", "locked", "denied", "wrong_number", "expired"}
)
PUSH_ANSWERS = frozenset({"approved", "denied", "wrong_number", "fraud", "expired"})
PUSH_REFUSALS = frozenset({"no_device", "fraud_reported", "too_many_pending", "too_many_pushes"})
# The throttle's refusals (gatehouse.signin.throttle), as the limit that refused.
THROTTLES = {
    "source_throttled": "source",
    "account_locked": "account_locked",
    "throttled": "second_factor_delay",
    "factor_locked": "second_factor_locked",
}
SIGNIN_REFUSALS = frozenset({"busy", "cache_unavailable"})
# Forward auth: the answer's status, as the decision an operator reads.
DECISIONS = {200: "allowed", 403: "denied", 401: "redirect", 302: "redirect", 303: "redirect"}
DECISION_OTHERS = {400: "bad_request", 405: "bad_request", 503: "unavailable"}
ENDPOINTS = {"/api/authz/forward-auth": "forward_auth", "/api/authz/auth-request": "auth_request"}

# This process's counts (prometheus_client's global registry is left to libraries).
OWN = CollectorRegistry()

SIGNINS = Counter(
    "gatehouse_signins",
    "Sign-in log outcomes as they are written: a sign-in that passes several steps (password, "
    "then a second factor) counts each step's outcome; result=success once per sign-in that "
    "got in.",
    ["result", "reason", "requirement", "client_type"],
    registry=OWN,
)
SIGNINS_REFUSED = Counter(
    "gatehouse_signins_refused",
    "Sign-in attempts refused before any verdict: busy (the queue was full) or "
    "cache_unavailable (Redis down).",
    ["reason"],
    registry=OWN,
)
SECOND_FACTOR = Counter(
    "gatehouse_authn_second_factor",
    "Second-factor attempts by method and result.",
    ["method", "result"],
    registry=OWN,
)
AUTHZ = Counter(
    "gatehouse_authz",
    "Forward-auth answers to reverse proxies by endpoint and decision.",
    ["endpoint", "decision"],
    registry=OWN,
)
AUTHZ_DURATION = Histogram(
    "gatehouse_authz_duration_seconds",
    "Time to answer a forward-auth request, from its arrival to its answer.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
    registry=OWN,
)
PUSH_CHALLENGES = Counter(
    "gatehouse_push_challenges",
    "Approval requests made for the Gatehouse Authenticator.",
    registry=OWN,
)
PUSH_REFUSED = Counter(
    "gatehouse_push_challenges_refused",
    "Approval requests not made, by reason.",
    ["reason"],
    registry=OWN,
)
PUSH_ANSWERED = Counter(
    "gatehouse_push_answers",
    "Phones' answers to approval requests: approved, denied, wrong_number, fraud (reported as "
    "not theirs) or expired (answered too late).",
    ["answer"],
    registry=OWN,
)
THROTTLED = Counter(
    "gatehouse_throttled",
    "Guesses refused unchecked by a limit: source (too many wrong passwords from one "
    "address), account_locked (a locked account), second_factor_delay (the back-off between "
    "wrong codes), second_factor_locked (second factors locked until the helpdesk unlocks).",
    ["limit"],
    registry=OWN,
)


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def signin(result: str, reason: str, requirement: str, client_type: str) -> None:
    """A sign-in-log outcome written. `reason` is one of the log's reason codes."""
    SIGNINS.labels(
        _bounded(result, RESULTS),
        reason,
        _bounded(requirement, REQUIREMENTS),
        _bounded(client_type, CLIENT_TYPES),
    ).inc()


def signin_refused(reason: str) -> None:
    """A sign-in refused before a verdict: "busy" or "cache_unavailable"."""
    SIGNINS_REFUSED.labels(_bounded(reason, SIGNIN_REFUSALS)).inc()


def second_factor_step(steps: Sequence[dict]) -> None:
    """The newest step of a sign-in, when it is a second factor's attempt."""
    step = steps[-1] if steps else {}
    if step.get("method") in SECOND_FACTORS:
        result = _bounded(step.get("result", ""), FACTOR_RESULTS)
        SECOND_FACTOR.labels(step["method"], result).inc()


# Forward auth is the hot path: a proxy asks for every asset of every page. Its counts are
# tallied in plain numbers on the event loop and added to the metrics once a second (a
# multiprocess counter's increment takes a lock and writes a file mapping: several µs).
_authz = {
    (path, status): AUTHZ.labels(endpoint, decision)
    for path, endpoint in ENDPOINTS.items()
    for status, decision in {**DECISIONS, **DECISION_OTHERS}.items()
}
_authz_other = {path: AUTHZ.labels(endpoint, OTHER) for path, endpoint in ENDPOINTS.items()}
_DURATION_BOUNDS = AUTHZ_DURATION._upper_bounds  # the last is +Inf
FLUSH_EVERY = 1.0
_tally: dict[tuple[str, int], int] = {}
_duration_tally = [0] * len(_DURATION_BOUNDS)
_duration_sum = [0.0]
_flushing: list[asyncio.TimerHandle] = []


def authz(path: str, status: int, seconds: float) -> None:
    """A forward-auth answer to `path` given in `seconds`. Called on the event loop only (a
    call from elsewhere is added at once)."""
    _tally[path, status] = _tally.get((path, status), 0) + 1
    _duration_tally[bisect_left(_DURATION_BOUNDS, seconds)] += 1
    _duration_sum[0] += seconds
    if not _flushing:
        _start_flushing()


def _start_flushing() -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush_authz()
        return
    _flushing.append(loop.call_later(FLUSH_EVERY, _tick, loop))


def _tick(loop: asyncio.AbstractEventLoop) -> None:
    flush_authz()
    _flushing[0] = loop.call_later(FLUSH_EVERY, _tick, loop)


def flush_authz() -> None:
    """Add the tallied forward-auth answers to the metrics."""
    tally = dict(_tally)
    _tally.clear()
    for (path, status), count in tally.items():
        child = _authz.get((path, status)) or _authz_other.get(path)
        if child is not None:
            child.inc(count)
    for index, count in enumerate(_duration_tally):
        if count:
            _duration_tally[index] = 0
            AUTHZ_DURATION._buckets[index].inc(count)
    if tally:
        total, _duration_sum[0] = _duration_sum[0], 0.0
        AUTHZ_DURATION._sum.inc(total)


def push_sent() -> None:
    PUSH_CHALLENGES.inc()


def push_refused(reason: str) -> None:
    PUSH_REFUSED.labels(_bounded(reason, PUSH_REFUSALS)).inc()


def push_answer(answer: str) -> None:
    PUSH_ANSWERED.labels(_bounded(answer, PUSH_ANSWERS)).inc()


def throttled(refusal: tuple[str, int] | None) -> None:
    """A throttle's answer to a claim: (reason, seconds) when it refused, else None."""
    if refusal is not None:
        THROTTLED.labels(THROTTLES.get(refusal[0], OTHER)).inc()


# --- exposition ------------------------------------------------------------------------------


def exposition(*extra: Collector) -> bytes:
    """Every metric, in Prometheus's text format: all workers' counts added up in multiprocess
    mode (else this process's), then the `extra` collectors, computed now (health, coverage)."""
    folder = os.environ.get(MULTIPROC_DIR)
    if folder:
        from prometheus_client import multiprocess

        counted: Collector = multiprocess.MultiProcessCollector(CollectorRegistry(), path=folder)
    else:
        counted = OWN
    return generate_latest(_Together((counted, *extra)))  # type: ignore[arg-type]


class _Together:
    def __init__(self, collectors: tuple[Collector, ...]):
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()
