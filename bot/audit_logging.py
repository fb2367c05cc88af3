"""Log set-up: audit lines go to stdout as bare JSON (one event a line, for log pipelines);
everything else goes to stderr with a timestamp and a level."""

from __future__ import annotations

import logging
import os
import sys

from bot.stopflow.audit import AUDIT_LOGGER


def configure_logging() -> None:
    level = os.environ.get("STOPLIVE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    audit = logging.getLogger(AUDIT_LOGGER)
    audit.setLevel(logging.INFO)
    audit.propagate = False
    if not audit.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        audit.addHandler(handler)
