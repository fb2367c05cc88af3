"""Work that runs after Slack has its ack, tracked so that a shutdown can wait for it.

Every confirmed stop must end in a channel message, even if the process is told to stop
(SIGTERM) right after the click: :meth:`Background.drain` waits for what was spawned, and
spawning happens before the ack goes out, so nothing slips between the two. What cannot finish
in time is cancelled (:meth:`Background.cancel`); the work catches ``CancelledError`` to say so
in its channel before it goes.

Spawned work starts a loop turn late, on purpose: the handlers of requests already read go
first, and their acks out. Slack drops a request not acked within 3 s; the work has no such
clock. Started at once, a burst of clicks ran each click's stop (its claims, its journal entry)
between the acks, and the last ack of 200 waited behind a hundred of them (bench/burst.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


async def _after_a_turn(work: Coroutine[Any, Any, None]) -> None:
    await asyncio.sleep(0)
    await work


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(_after_a_turn(work))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        # cancelled before its turn came (a shutdown's last moment), ``work`` never began:
        # closed, it is not reported as never awaited; once run, closing it does nothing
        task.add_done_callback(lambda _: work.close())

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("background work failed", exc_info=error)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace: float) -> bool:
        """Wait up to ``grace`` seconds for everything spawned (and what that spawns)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.error("shutting down with %d piece(s) of work unfinished", len(self._tasks))
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def cancel(self, grace: float) -> bool:
        """Cancel everything still running and give it up to ``grace`` seconds to finish its
        cancellation handling (a last message to its channel). True if all of it did."""
        for task in list(self._tasks):
            task.cancel()
        return await self.drain(grace)
