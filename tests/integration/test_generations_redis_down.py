"""Change counters while Redis is down (gatehouse/generations.py), against a real redis-server of
this test's own, stopped and started again: nothing remembered is trusted across a failed read,
and a change Redis did not take is sent once it answers."""

from __future__ import annotations

import shutil

import pytest
import redis

from gatehouse import generations
from tests.redis_server import REDIS_SERVER, running_redis

pytestmark = pytest.mark.skipif(not shutil.which(REDIS_SERVER), reason="no redis-server")


def test_stamps_change_while_redis_is_down_and_a_lost_bump_is_sent_after(monkeypatch) -> None:
    with running_redis() as server:
        store = generations._RedisStore(server.url)
        monkeypatch.setattr(generations, "_store", lambda: store)
        monkeypatch.setattr(generations, "CHECK_INTERVAL", 0.0)
        monkeypatch.setattr(generations, "_seen", generations._Seen())
        before = generations.current("things")

        server.stop()
        down = [generations.current("things") for _ in range(2)]
        generations._bump_shared("things")  # a change made meanwhile, after its commit

        assert before not in down and down[0] != down[1]
        server.start()
        after = generations.current("things")
        assert after not in [before, *down]
        shared = redis.Redis.from_url(server.url).hget(generations.REDIS_KEY, "things")
        assert shared == b"1"
        assert generations.current("things") == after  # settled again
