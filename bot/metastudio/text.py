"""Reading what a server wrote in free text: error messages made safe to show, HTTP dates.

Whatever a gateway, IAM or MetaStudio puts in an error body or a header ends up in an exception
message, a log line and maybe a Slack message. It is cut short and stripped of control and
format characters (newlines, NUL, bidi overrides, ANSI escapes) here, once, so it can neither
forge a log line nor bury the message that matters under a megabyte of HTML.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

ELLIPSIS = "…"


def safe_text(value: object, limit: int) -> str:
    """``value`` as one line of at most ``limit`` printable characters (cut with an ellipsis):
    control, format, surrogate and unassigned characters become spaces, runs of whitespace one
    space."""
    text = value if isinstance(value, str) else str(value)
    # Look at a little more than we keep, so a huge body costs nothing.
    inspected = text[: limit * 2 + 16]
    # ``isprintable`` is False for every "C" character: most text (a request ID) has none
    # and skips the per-character loop
    cleaned = (
        inspected
        if inspected.isprintable()
        else "".join(
            " " if unicodedata.category(char).startswith("C") else char for char in inspected
        )
    )
    words = " ".join(cleaned.split())
    if len(words) <= limit and len(inspected) == len(text):
        return words
    return words[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date header (``Date``, ``Retry-After``) as an aware UTC datetime, or None."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
