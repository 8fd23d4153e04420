"""The shared store in Redis, shared by every instance: records as JSON strings with a TTL,
counters in a hash, publish-subscribe on Redis channels; every name under `gatehouse:`.

One connection pool per process serves every caller; the one listener per process holds an
asyncio connection of its own (asyncio connections belong to their event loop)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import redis
import redis.asyncio

from gatehouse.stores.base import Change, Heard, StoreUnavailable, Wanted, dumps

PREFIX = "gatehouse:"


@contextmanager
def _answering() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise StoreUnavailable(f"Redis: {exc}") from exc


class RedisRecords:
    def __init__(self, client: redis.Redis, space: str) -> None:
        self.client = client
        self.prefix = f"{PREFIX}{space}:"

    def read(self, key: str) -> dict | None:
        with _answering():
            raw = cast(bytes | None, self.client.get(self.prefix + key))
        return json.loads(raw) if raw else None

    def update(self, keys: Sequence[str], change: Change, ttls: Sequence[int]) -> None:
        full = [self.prefix + key for key in keys]

        # Optimistic: WATCHed keys changed by someone else before EXEC make redis-py run
        # `apply` again on the fresh values.
        def apply(pipe: redis.client.Pipeline) -> None:
            raws = cast(list[bytes | None], pipe.mget(full))
            current = [json.loads(raw) if raw else None for raw in raws]
            new = change(current)
            pipe.multi()
            for name, record, ttl in zip(full, new, ttls, strict=True):
                if record is not None:
                    pipe.set(name, dumps(record), ex=ttl)

        with _answering():
            self.client.transaction(apply, *full)

    def delete(self, key: str) -> None:
        with _answering():
            self.client.delete(self.prefix + key)


class RedisCounters:
    def __init__(self, client: redis.Redis, space: str) -> None:
        self.client = client
        self.name = PREFIX + space

    def read(self) -> dict[str, int]:
        with _answering():
            values = cast(dict[bytes, bytes], self.client.hgetall(self.name))
        return {k.decode(): int(v) for k, v in values.items()}

    def increment(self, name: str) -> None:
        with _answering():
            self.client.hincrby(self.name, name, 1)


class RedisStore:
    def __init__(self, url: str, **options: float) -> None:
        self.url = url
        # `options`: connect and read timeouts, so that a Redis gone away fails a request in
        # seconds (settings.REDIS_OPTIONS); the listener's connection waits without one.
        self.client = redis.Redis(connection_pool=redis.ConnectionPool.from_url(url, **options))

    def records(self, space: str) -> RedisRecords:
        return RedisRecords(self.client, space)

    def counters(self, space: str) -> RedisCounters:
        return RedisCounters(self.client, space)

    def publish(self, channel: str, message: str) -> None:
        with _answering():
            self.client.publish(PREFIX + channel, message)

    async def listen(
        self, channel: str, heard: Heard, listening: asyncio.Event, wanted: Wanted
    ) -> None:
        # A subscription costs nothing while idle: it stays, whether or not anyone waits.
        client = redis.asyncio.Redis.from_url(self.url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(PREFIX + channel)
                async for message in pubsub.listen():
                    if message.get("type") == "subscribe":
                        listening.set()  # Redis has the subscription: every publish from now
                    elif message.get("type") == "message":
                        heard(message["data"].decode())
        except redis.RedisError as exc:
            raise StoreUnavailable(f"Redis: {exc}") from exc
        finally:
            await client.aclose()
