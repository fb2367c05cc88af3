"""Log set-up: audit lines go to stdout as bare JSON (one event a line, for log pipelines);
everything else goes to stderr as one JSON object a line (ts, level, logger, msg, fields), with
secret header values and Slack response URLs redacted.

JSON because messages carry what requests and MetaStudio said: as a JSON string a newline or an
escape sequence is data, so no input can forge or hide a line. Redaction happens in a filter on
the handler, so it covers every library's records (httpcore's DEBUG lines print response
headers, IAM's ``X-Subject-Token`` among them) at every level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from bot.stopflow.audit import AUDIT_LOGGER

SECRET_HEADERS = ("x-subject-token", "x-auth-token", "authorization", "x-security-token")
REDACTED = "[redacted]"
# A secret header's name, what separates it from its value in the shapes libraries print it
# (``Name: value``, ``'Name': 'value'``, ``(b'Name', b'value')``, ``Name=value``) and the value:
# up to the closing quote when quoted, else to the end of the line.
_SECRET_VALUE = re.compile(
    r"(?P<name>" + "|".join(SECRET_HEADERS) + r")"
    r"(?P<sep>['\"]?\s*[:,=]\s*b?)"
    r"(?:(?P<quote>['\"])(?P<quoted>.*?)(?P=quote)|(?P<bare>[^\r\n]+))",
    re.IGNORECASE,
)
# A Slack response_url (or webhook): whoever holds its path may post into the channel, as the
# app, for 30 minutes. slack_sdk prints the whole URL at DEBUG ("Sending a request - url: …"),
# plainly, JSON-escaped (``\/``) or percent-encoded (``%2F``) as a payload carries it.
_SEP = r"(?:/|\\/|%2F)"
_HOOK_PATH = re.compile(
    r"(?P<hook>hooks\.slack(?:-gov)?\.com"
    + _SEP
    + r"(?:commands|actions|services|triggers|workflows)"
    + _SEP
    + r")[^\s'\"<>&,;)}\]]+",
    re.IGNORECASE,
)
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def redact(text: str) -> str:
    def hide(match: re.Match[str]) -> str:
        quote = match.group("quote") or ""
        return f"{match.group('name')}{match.group('sep')}{quote}{REDACTED}{quote}"

    return _HOOK_PATH.sub(r"\g<hook>" + REDACTED, _SECRET_VALUE.sub(hide, text))


class RedactSecrets(logging.Filter):
    """Blanks every secret header value and Slack response URL path in a record's message (and
    traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, the record's ``extra`` fields, and the
    traceback (as one string) if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Route stoplive's logs; ``level`` is STOPLIVE_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    audit = logging.getLogger(AUDIT_LOGGER)
    audit.setLevel(logging.INFO)
    audit.propagate = False
    if not audit.handlers:
        audit_handler = logging.StreamHandler(sys.stdout)
        audit_handler.setFormatter(logging.Formatter("%(message)s"))
        audit.addHandler(audit_handler)


def silence() -> None:
    """No log line anywhere: for front ends whose output is read by people (``check``, the
    sandbox), where a library's INFO line about a retry would read as part of the answer.
    A handler at the root keeps logging's "last resort" from printing warnings anyway."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.NullHandler())
    root.setLevel(logging.CRITICAL + 1)
