"""Log set-up: audit lines go to stdout as bare JSON (one event a line, for log pipelines);
everything else goes to stderr with a timestamp and a level."""

from __future__ import annotations

import logging
import sys

from bot.stopflow.audit import AUDIT_LOGGER


def configure_logging() -> None:
    # INFO until the settings are read; run() then sets STOPLIVE_LOG_LEVEL (a Settings field)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    audit = logging.getLogger(AUDIT_LOGGER)
    audit.setLevel(logging.INFO)
    audit.propagate = False
    if not audit.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        audit.addHandler(handler)
