"""A Redis database of a test's own on the local server: it must answer in CI (where Redis
always runs); elsewhere its absence skips the test."""

from __future__ import annotations

import os

import pytest
import redis


def redis_or_skip(url: str) -> redis.Redis:
    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {url}: {exc}")
        pytest.skip(f"Redis at {url}: {exc}")
    return connection
