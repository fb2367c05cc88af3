"""Log lines: one JSON object each whatever the message holds; secret header values redacted
in every shape the HTTP libraries print them."""

from __future__ import annotations

import json
import logging
import sys

from hypothesis import given
from hypothesis import strategies as st

from bot.audit_logging import JsonLines, RedactSecrets, redact

TOKENS = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="'\\\""),
    min_size=8,
    max_size=60,
)
NAMES = st.sampled_from(
    ["X-Subject-Token", "x-subject-token", "X-Auth-Token", "Authorization", "X-Security-Token"]
)


@given(name=NAMES, token=TOKENS)
def test_every_printed_shape_of_a_secret_header_is_redacted(name: str, token: str) -> None:
    token = "T0K" + token  # never a piece of the surrounding text
    shapes = [
        f"[(b'Content-Type', b'application/json'), (b'{name}', b'{token}'), (b'Date', b'x')]",
        f"{{'{name}': '{token}', 'Other': 'y'}}",
        f'{{"{name}": "{token}"}}',
        f"{name}: {token}",
        f"{name}: Bearer {token}",
        f"{name}={token}",
    ]
    for shape in shapes:
        cleaned = redact(shape)
        assert token not in cleaned, shape
        assert name in cleaned


def test_other_headers_are_left_alone() -> None:
    line = "[(b'Content-Type', b'application/json'), (b'X-Request-Id', b'rid-1')]"
    assert redact(line) == line


HOOK_SECRETS = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
    min_size=12,
    max_size=40,
)


@given(
    kind=st.sampled_from(["commands", "actions", "services"]),
    secret=HOOK_SECRETS,
    host=st.sampled_from(["hooks.slack.com", "HOOKS.SLACK.COM", "hooks.slack-gov.com"]),
)
def test_a_response_url_is_redacted_in_every_shape_it_is_printed(
    kind: str, secret: str, host: str
) -> None:
    secret = "S3C" + secret  # never a piece of the surrounding text
    url = f"https://{host}/{kind}/T0123ABC/4567890/{secret}"
    shapes = [
        f"Sending a request - url: {url}, body: {{}}, headers: {{}}",  # slack_sdk's webhook
        f"{{'url': '{url}', 'text': 'x'}}",
        json.dumps({"response_url": url}).replace("/", "\\/"),  # as Slack's JSON escapes it
        "response_url=" + url.replace(":", "%3A").replace("/", "%2F") + "&text=x",  # a form
        f"no answer from {url}.",
    ]
    for shape in shapes:
        cleaned = redact(shape)
        assert secret not in cleaned and "T0123ABC" not in cleaned, shape
        assert host in cleaned and "[redacted]" in cleaned


def test_other_slack_urls_are_left_alone() -> None:
    line = "Sending a request - url: https://slack.com/api/chat.postMessage, body: {}"
    assert redact(line) == line


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("bot.x", logging.INFO, __file__, 1, message, args or None, None)
    made.__dict__.update(extra)
    return made


@given(message=st.text(max_size=200), field=st.text(max_size=50))
def test_a_line_is_one_json_object_whatever_it_holds(message: str, field: str) -> None:
    line = JsonLines().format(record("%s", message, reason=field))
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    parsed = json.loads(line)
    assert parsed["msg"] == message and parsed["reason"] == field
    assert {"ts", "level", "logger"} <= parsed.keys()


def test_the_filter_redacts_arguments_and_tracebacks() -> None:
    try:
        raise RuntimeError("Authorization: Bearer xoxb-SECRET-1")
    except RuntimeError:
        made = record("headers %s", {"X-Auth-Token": "tok-SECRET-2"}, exc_info=None)
        made.exc_info = sys.exc_info()
    assert RedactSecrets().filter(made)
    line = JsonLines().format(made)
    assert "SECRET" not in line and "[redacted]" in line
