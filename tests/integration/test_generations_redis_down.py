"""Change counters while Redis is down (gatehouse/generations.py), against a real redis-server of
this test's own, stopped and started again: nothing remembered is trusted across a failed read,
and a change Redis did not take is sent once it answers."""

from __future__ import annotations

import shutil

import pytest
import redis
from django.conf import settings

from gatehouse import clock, generations
from gatehouse.stores.memo import Memo
from gatehouse.stores.redis import PREFIX, RedisStore
from tests.redis_server import REDIS_SERVER, running_redis

pytestmark = pytest.mark.skipif(not shutil.which(REDIS_SERVER), reason="no redis-server")


def test_stamps_change_while_redis_is_down_and_a_lost_bump_is_sent_after(monkeypatch) -> None:
    with running_redis() as server, clock.frozen() as now:
        store = RedisStore(server.url, **settings.REDIS_OPTIONS)
        monkeypatch.setattr(generations, "_counters", lambda: store.counters(generations.SPACE))
        monkeypatch.setattr(generations, "_read", Memo(generations.CHECK_INTERVAL, 1))
        monkeypatch.setattr(generations, "_unsent", set())
        monkeypatch.setattr(generations, "_failed_reads", 0)
        before = generations.current("things")

        server.stop()
        down = []
        for _ in range(2):
            now.advance(generations.CHECK_INTERVAL + 0.1)
            down.append(generations.current("things"))
        generations._bump_shared("things")  # a change made meanwhile, after its commit

        assert before not in down and down[0] != down[1]
        server.start()
        now.advance(generations.CHECK_INTERVAL + 0.1)
        after = generations.current("things")
        assert after not in [before, *down]
        shared = redis.Redis.from_url(server.url).hget(PREFIX + generations.SPACE, "things")
        assert shared == b"1"
        assert generations.current("things") == after  # settled again
