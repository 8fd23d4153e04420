"""The shared-store interface (gatehouse.stores) on both back ends, the database and a real
Redis: counters, publish-subscribe, and StoreUnavailable when Redis does not answer. (Records
and their atomic update: tests/unit/test_throttle.py and test_throttle_prune_race.py.)"""

from __future__ import annotations

import asyncio

import pytest

from gatehouse import stores
from gatehouse.stores.database import DatabaseStore
from gatehouse.stores.redis import RedisStore
from tests.redis_db import redis_or_skip

# The database's listener reads on worker threads: they see only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = "redis://127.0.0.1:6379/7"  # this file's own database, emptied before each test


@pytest.fixture(params=["database", "redis"])
def store(request) -> stores.Store:
    if request.param == "database":
        return DatabaseStore()
    from django.conf import settings

    url = settings.CACHE_URL or REDIS_URL
    redis_or_skip(url).flushdb()
    return RedisStore(url)


def test_counters_go_up_by_name_and_spaces_keep_apart(store):
    counters, others = store.counters("test"), store.counters("other")
    assert counters.read() == {}
    counters.increment("a")
    counters.increment("a")
    counters.increment("b")
    others.increment("a")
    assert counters.read() == {"a": 2, "b": 1}
    assert others.read() == {"a": 1}


def test_a_message_published_reaches_the_listener_of_its_channel_only(store):
    heard: list[str] = []

    async def main() -> None:
        listening, got = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()

        def hear(message: str) -> None:
            heard.append(message)
            got.set()

        listener = asyncio.create_task(store.listen("flows", hear, listening, lambda: True))
        await asyncio.wait_for(listening.wait(), 10)
        # Published elsewhere (a request's thread), as waiting.notify is.
        await loop.run_in_executor(None, publish)
        await asyncio.wait_for(got.wait(), 10)
        listener.cancel()

    def publish() -> None:
        from django.db import connections

        store.publish("other", "not for it")
        store.publish("flows", "flow-1")
        connections.close_all()

    asyncio.run(main())
    assert heard == ["flow-1"]


def test_a_redis_that_does_not_answer_raises_store_unavailable():
    unreachable = RedisStore("redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(stores.StoreUnavailable):
        unreachable.records("throttle").read("account:x")
    with pytest.raises(stores.StoreUnavailable):
        unreachable.records("throttle").update(("k",), lambda records: records, (60,))
    with pytest.raises(stores.StoreUnavailable):
        unreachable.counters("generations").read()
    with pytest.raises(stores.StoreUnavailable):
        unreachable.publish("flows", "flow-1")


def test_one_store_and_one_redis_pool_per_process(settings):
    stores.shared.cache_clear()
    settings.CACHE_URL = REDIS_URL
    try:
        first = stores.shared()
        assert isinstance(first, RedisStore) and stores.shared() is first
        assert (
            first.records("a").client.connection_pool is first.counters("b").client.connection_pool
        )
    finally:
        stores.shared.cache_clear()
    settings.CACHE_URL = ""
    try:
        assert isinstance(stores.shared(), DatabaseStore)
    finally:
        stores.shared.cache_clear()
