"""Builders the tests share: the audit lines a test logged, and (below) tickets, settings and
journal entries, so that each is made one way and a change to its shape is one edit."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

AUDIT_LOGGER = "stoplive.audit"


class AuditLines:
    """The audit lines logged so far in this test, parsed; ``audit_lines("outcome")`` keeps one
    event. Made by the ``audit_lines`` fixture, which turns the audit logger on at INFO first
    (the bot logs its audit lines at INFO, and pytest captures WARNING and up by default)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
        self._caplog = caplog

    def __call__(self, event: str | None = None) -> list[dict[str, Any]]:
        lines = [
            json.loads(record.getMessage())
            for record in self._caplog.records
            if record.name == AUDIT_LOGGER
        ]
        return [line for line in lines if event is None or line["event"] == event]
