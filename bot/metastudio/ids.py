"""What a MetaStudio room, job or third-party user ID may look like.

IDs arrive from people typing in Slack. They are checked against a strict pattern *before*
they come near a URL or a header, so no input can add a path segment, a query, a fragment or a
host; the client still percent-encodes each one as a single path segment, as a second wall.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

# MetaStudio IDs are UUIDs or 32-hex strings; allow a little more (letters, digits, '-', '_')
# so a future ID format still works, but nothing that means anything in a URL.
_RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# X-App-UserId: printable ASCII without spaces. That rules out CJK characters (which the API
# rejects) and anything that could split or fold a header.
_APP_USER_ID = re.compile(r"[\x21-\x7e]{1,64}")


class InvalidId(ValueError):
    """An ID that must not be sent to MetaStudio. The message is safe to show a person."""


def check_resource_id(kind: str, value: str) -> str:
    """Return ``value`` if it is a well-formed room or job ID, else raise :class:`InvalidId`."""
    if not _RESOURCE_ID.fullmatch(value):
        raise InvalidId(
            f"{kind} must be 1-64 letters, digits, '-' or '_' (like a UUID), starting with a "
            "letter or digit"
        )
    return value


def check_app_user_id(value: str) -> str:
    """Return ``value`` if it may be sent as ``X-App-UserId``, else raise :class:`InvalidId`."""
    if not _APP_USER_ID.fullmatch(value):
        raise InvalidId(
            "a MetaStudio app user ID must be 1-64 printable ASCII characters without spaces "
            "(the API does not accept Chinese characters)"
        )
    return value


ROOM_NAME_MAX = 256  # MetaStudio's own limit for a room name


def check_room_name(value: str) -> str:
    """``value`` without surrounding blanks, if it may be sent as a room-name search (a query
    parameter, so any printable text will do), else :class:`InvalidId`."""
    name = value.strip()
    if not 1 <= len(name) <= ROOM_NAME_MAX or any(
        unicodedata.category(char).startswith("C") for char in name
    ):
        raise InvalidId(f"a room name to search for must be 1-{ROOM_NAME_MAX} printable characters")
    return name


def path_segment(value: str) -> str:
    """Percent-encode ``value`` so that it can only ever be one path segment."""
    return quote(value, safe="")
