"""A burst larger than one replica's Redis connections is queued, not refused: redis-py's default
pool refused the 101st concurrent call, which refused half the stops of a 200-click burst."""

from __future__ import annotations

import asyncio

from bot.stopflow.store.redis import MAX_CONNECTIONS, RedisStore


async def test_a_burst_beyond_the_pool_waits_for_a_connection(redis_url: str) -> None:
    store = RedisStore(redis_url)
    try:
        answers = await asyncio.gather(
            *(store.claim(f"ticket:{n}", f"U{n:05d}", 60) for n in range(25 * MAX_CONNECTIONS))
        )
    finally:
        await store.aclose()
    assert answers == [None] * (25 * MAX_CONNECTIONS)  # every claim taken, none refused
