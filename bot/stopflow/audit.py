"""One JSON line per thing that happened, for whoever reviews the incident afterwards.

Fields are fixed (``event``, ``slack_user``, ``app_user``, ``channel``, ``room``, ``job``,
``outcome``, ``request_id``, ``latency_ms``, ``detail``, ``recovered_by``, ``approved_by``, ``batch``)
so the lines can be queried: a ``/stoplive all`` writes one line per job and one for the batch,
each naming the batch (and its second approver, if there was one). Only IDs
and outcomes go in: never a token, key or secret.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

AUDIT_LOGGER = "stoplive.audit"


class AuditLog:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(AUDIT_LOGGER)

    def record(
        self,
        event: str,
        *,
        slack_user: str,
        channel: str,
        outcome: str,
        app_user: str | None = None,
        room: str | None = None,
        job: str | None = None,
        request_id: str | None = None,
        started: float | None = None,
        detail: str | None = None,
        recovered_by: str | None = None,
        approved_by: str | None = None,
        batch: str | None = None,
    ) -> None:
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "slack_user": slack_user,
            "app_user": app_user,
            "channel": channel,
            "room": room,
            "job": job,
            "outcome": outcome,
            "request_id": request_id or None,
            "latency_ms": round((time.monotonic() - started) * 1000) if started else None,
            "detail": detail,
            "recovered_by": recovered_by or None,
            "approved_by": approved_by or None,
            "batch": batch or None,
        }
        self._logger.info(json.dumps(line, ensure_ascii=False))
