"""Each setting's value checked on its own, and every problem worded for start-up.

The field checks ``bot.config.Settings`` applies, the one-line-per-problem wording of pydantic's
errors (named by environment variable, never showing a value), and the lenient copy of the
values the cross-field checks read, so that those still run when a field has failed. Split from
``bot/config.py`` so that the model reads as the list of settings it is.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr, ValidationError

from bot.stopflow.store.redis import redis_url_problem

# Any settings model (bot.config.Settings, not imported here: that module imports this one).
_Model = TypeVar("_Model", bound=BaseModel)

CONSOLE_URL_PLACEHOLDERS = frozenset({"region", "project_id", "room_id", "job_id"})

_ONE_LINE = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def _text(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _matching(
    pattern: re.Pattern[str], what: str, *, empty_ok: bool = True
) -> Callable[[str | SecretStr | None], str | SecretStr | None]:
    """A field check: unset passes, and so does empty unless ``empty_ok`` is false (the
    required-check names those); anything else must match ``pattern``. The message says what
    is expected and never shows the value."""

    def check(value: str | SecretStr | None) -> str | SecretStr | None:
        return _check_pattern(value, pattern, what, empty_ok)

    return check


def _check_pattern(
    value: str | SecretStr | None, pattern: re.Pattern[str], what: str, empty_ok: bool
) -> str | SecretStr | None:
    if value is None or (empty_ok and _text(value) == "") or pattern.fullmatch(_text(value)):
        return value
    raise ValueError(f"must be {what}")


def _http_url(value: str | None) -> str | None:
    """An http(s) base URL with a host, and nothing that would be sent somewhere surprising
    (credentials, query, fragment)."""
    if value is None:
        return None
    expected = "an http:// or https:// URL with a host, like https://example.com/path"
    if not _ONE_LINE.fullmatch(value) or " " in value:
        raise ValueError(f"must be {expected}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError(f"must be {expected}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be {expected}")
    if parts.username is not None or parts.query or parts.fragment:
        raise ValueError("must be a plain base URL: no user:password@, no ?query, no #fragment")
    return value


def _redis_url(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    expected = "a redis://, rediss:// or unix:// URL, like rediss://:password@host:6379/0"
    url = value.get_secret_value()
    if not _ONE_LINE.fullmatch(url) or " " in url:
        raise ValueError(f"must be {expected}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError(f"must be {expected}") from None
    if not (
        (parts.scheme in ("redis", "rediss") and parts.hostname)
        or (parts.scheme == "unix" and parts.path)
    ):
        raise ValueError(f"must be {expected}")
    problem = redis_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return value


def _console_url(value: str | None) -> str | None:
    """A link template: only the known placeholders, and an http(s) URL once filled in."""
    if value is None:
        return None
    allowed = ", ".join("{" + name + "}" for name in sorted(CONSOLE_URL_PLACEHOLDERS))
    try:
        fields = list(string.Formatter().parse(value))
    except ValueError:
        raise ValueError(f"must be a URL template using only {allowed}") from None
    for _, name, spec, conversion in fields:
        if name is not None and (name not in CONSOLE_URL_PLACEHOLDERS or spec or conversion):
            raise ValueError(f"must be a URL template using only {allowed}")
    sample = value.format(
        region="cn-north-4", project_id="0" * 32, room_id="room-1", job_id="job-1"
    )
    try:
        _http_url(sample.split("?", 1)[0].split("#", 1)[0])
    except ValueError:
        raise ValueError(
            f"must be an http:// or https:// URL with a host, using only {allowed}"
        ) from None
    return value


def field_problems(exc: ValidationError) -> list[str]:
    """One line per field error, named by its environment variable, never showing the value."""
    lines: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:
            lines.append(f"{str(error['loc'][0]).upper()}: {' '.join(message.split())}")
        else:  # _every_problem's: one problem a line, already named
            lines.extend(message.splitlines())
    return lines


_CROSS_FIELDS = (
    "metastudio_project_id",
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "stoplive_mode",
    "huaweicloud_sdk_ak",
    "huaweicloud_sdk_sk",
    "huaweicloud_sdk_security_token",
    "metastudio_auth_token",
    "huaweicloud_iam_username",
    "huaweicloud_iam_password",
    "huaweicloud_iam_domain",
    "stoplive_allowlist",
    "stoplive_allowlist_file",
)


def _lenient(cls: type[_Model], data: Any) -> _Model | None:
    """An unvalidated Settings holding the raw values the cross-field checks read, so that
    they still run when some field failed. Values of a type they cannot read are left out:
    their field error already names them."""
    if not isinstance(data, dict):
        return None
    values = {
        name: data[name]
        for name in _CROSS_FIELDS
        if name in data and (data[name] is None or isinstance(data[name], str | SecretStr))
    }
    return cls.model_construct(**values)
