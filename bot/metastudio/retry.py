"""When to try a MetaStudio call again, and how long to wait.

Only what is safe is retried: a request that never left (connection refused), and reads whose
repetition changes nothing (after a 5xx, a 429, a dropped connection). A stop that may have been
applied (any answer but a 2xx or a 4xx) is never sent twice blindly: the job is read first, and
the stop sent again only while it is live (:meth:`~bot.metastudio.client.MetaStudioClient.stop_job`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.metastudio.text import parse_http_date


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # in all, the first one included
    base_delay: float = 0.2
    max_delay: float = 2.0
    budget: float = 12.0  # seconds for all attempts and waits together

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: capped exponential backoff with
        full jitter, or what the server asked for in ``Retry-After`` if that is longer."""
        backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        return max(backoff, retry_after or 0.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²": str.isdigit() says yes, float() no
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
