"""Whatever arrives at ``POST /slack/events`` gets a 4xx and one log line, never a 5xx, a
traceback or the body in the log. Over real loopback HTTP against the running bot."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.audit_logging import JsonLines, RedactSecrets
from bot.slack.inbound import check_signature, decode_form, sort_body
from bot.slack.payloads import Accepted, Rejected
from tests.builders import JOB, ROOM
from tests.conftest import BotFactory
from tests.harness import (
    ALICE,
    CHANNEL,
    SIGNING_SECRET,
    Harness,
    action_payload,
    command_body,
    signed_bytes_headers,
    signed_headers,
)

MARK = "BODYMARK"  # in every hostile body; must never reach the log


class Lines(logging.Handler):
    """The log as the bot writes it to stderr (JSON lines, secrets redacted), kept in memory."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonLines())
        self.addFilter(RedactSecrets())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def at_least(self, level: int) -> list[dict[str, Any]]:
        """The bot's lines at ``level`` or above (the test's own httpx client logs too)."""
        parsed = [json.loads(line) for line in self.lines]
        return [
            p
            for p in parsed
            if logging.getLevelName(p["level"]) >= level
            and p["logger"].split(".")[0] not in ("httpx", "httpcore")
        ]


@pytest.fixture
def log() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def command(**fields: str) -> bytes:
    base = {
        "command": "/stoplive",
        "user_id": ALICE,
        "channel_id": CHANNEL,
        "text": f"{ROOM} {JOB} {MARK}",
        "response_url": "http://127.0.0.1:9/hooks/x",
    }
    base.update(fields)
    return urlencode({k: v for k, v in base.items() if v != "-"}).encode()


def click(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def good_click(**changes: Any) -> dict[str, Any]:
    payload = action_payload("stoplive.confirm", MARK, ALICE, CHANNEL, "http://127.0.0.1:9/h")
    payload.update(changes)
    return {k: v for k, v in payload.items() if v != "-"}


SIGNED_BUT_MALFORMED: list[tuple[str, bytes, str, int]] = [
    ("not UTF-8", b"command=/stoplive&text=\xff\xfe" + MARK.encode(), "form", 400),
    ("payload not JSON", b"payload=%7B" + MARK.encode(), "form", 400),
    ("payload null", b"payload=null&x=" + MARK.encode(), "form", 400),
    ("payload {}", b"payload=%7B%7D&x=" + MARK.encode(), "form", 400),
    ("payload a list", click([MARK]), "form", 400),
    ("payload nested deep", click("x").replace(b"%22x%22", b"%5B" * 5000), "form", 400),
    ("click without user", click(good_click(user="-")), "form", 400),
    ("click with user {}", click(good_click(user={})), "form", 400),
    ("click with user id a number", click(good_click(user={"id": 5})), "form", 400),
    ("click with actions a string", click(good_click(actions=MARK)), "form", 400),
    ("click with actions []", click(good_click(actions=[])), "form", 400),
    ("click with team a string", click(good_click(team=MARK)), "form", 400),
    ("command without user_id", command(user_id="-"), "form", 400),
    ("command without text", command(text="-", channel_id=MARK), "form", 400),
    ("field given twice", command() + b"&user_id=U0BOB0002", "form", 400),
    ("form of nonsense", b"%%%" + MARK.encode(), "form", 400),
    ("JSON list", json.dumps([MARK]).encode(), "json", 400),
    ("JSON not JSON", b"{" + MARK.encode(), "json", 400),
    (
        "event with wrong types",
        json.dumps({"type": "event_callback", "event": MARK}).encode(),
        "json",
        400,
    ),
    (
        "home opened by a user who is a list",
        json.dumps(
            {"type": "event_callback", "event": {"type": "app_home_opened", "user": [MARK]}}
        ).encode(),
        "json",
        400,
    ),
    (
        "an event we do not subscribe to",
        json.dumps({"type": "event_callback", "event": {"type": "message", "text": MARK}}).encode(),
        "json",
        404,
    ),
    ("a command as JSON", json.dumps({"command": "/stoplive", "text": MARK}).encode(), "json", 400),
    (
        "url_verification without a challenge",
        b'{"type": "url_verification", "x": "' + MARK.encode() + b'"}',
        "json",
        400,
    ),
    ("event of another kind", json.dumps({"type": 5, "team": MARK}).encode(), "json", 400),
    ("a view submission", click({"type": "view_submission", "view": MARK}), "form", 404),
    ("text/plain", MARK.encode(), "text", 400),
    (
        "command answering to a foreign host",
        command(response_url=f"https://evil.example/{MARK}"),
        "form",
        400,
    ),
    (
        "click answering to a foreign host",
        click(good_click(response_url=f"https://hooks.slack.com.evil.example/{MARK}")),
        "form",
        400,
    ),
]
CONTENT_TYPES = {
    "form": "application/x-www-form-urlencoded",
    "json": "application/json",
    "text": "text/plain",
}


def assert_one_quiet_line(log: Lines, status: int) -> None:
    text = "\n".join(log.lines)
    assert MARK not in text and "Traceback" not in text
    [line] = log.at_least(logging.INFO)
    assert line["status"] == status and line["logger"] == "bot.slack.server"
    assert isinstance(line["bytes"], int)


@pytest.mark.parametrize(
    ("body", "kind", "status"),
    [case[1:] for case in SIGNED_BUT_MALFORMED],
    ids=[case[0] for case in SIGNED_BUT_MALFORMED],
)
async def test_signed_but_malformed_is_refused_in_one_line(
    start_bot: BotFactory, log: Lines, body: bytes, kind: str, status: int
) -> None:
    bot = await start_bot()
    log.lines.clear()
    headers = signed_bytes_headers(body, CONTENT_TYPES[kind])
    response = await bot.http.post(bot.events_url, content=body, headers=headers)
    assert response.status_code == status
    assert_one_quiet_line(log, status)
    assert not bot.metastudio.seen and not bot.slack.url_posts


def unsigned_cases() -> list[tuple[str, dict[str, str | bytes]]]:
    body = command().decode()
    good = signed_headers(body)
    return [
        ("no headers", {}),
        ("timestamp abc", {**good, "X-Slack-Request-Timestamp": "abc"}),
        ("timestamp huge", {**good, "X-Slack-Request-Timestamp": "9" * 400}),
        ("signature not ASCII", {**good, "X-Slack-Signature": "v0=é".encode()}),
        ("signature of another body", signed_headers(body + "&x=1")),
        ("wrong secret", signed_headers(body, secret="not-the-secret")),
    ]


@pytest.mark.parametrize(
    "headers", [c[1] for c in unsigned_cases()], ids=[c[0] for c in unsigned_cases()]
)
async def test_unsigned_is_401_in_one_line(
    start_bot: BotFactory, log: Lines, headers: dict[str, str | bytes]
) -> None:
    bot = await start_bot()
    log.lines.clear()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    response = await bot.http.post(bot.events_url, content=command(), headers=headers)
    assert response.status_code == 401
    assert_one_quiet_line(log, 401)


async def test_an_unsigned_huge_body_with_newlines_forges_nothing(
    start_bot: BotFactory, log: Lines
) -> None:
    bot = await start_bot()
    log.lines.clear()
    forged = '\n{"level": "ERROR", "msg": "' + MARK + '"}\n'
    body = (forged + "x" * 250_000).encode()
    response = await bot.http.post(bot.events_url, content=body)
    assert response.status_code == 401
    assert_one_quiet_line(log, 401)
    assert sum(len(json.dumps(line)) for line in log.at_least(logging.DEBUG)) < 1000


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz" + MARK.encode() + b"\r\n",
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\n\x00" + MARK.encode() + b"\r\n\r\n",
    ],
    ids=["bad chunk size", "garbage header line"],
)
async def test_malformed_http_is_one_line(start_bot: BotFactory, log: Lines, raw: bytes) -> None:
    bot = await start_bot()
    log.lines.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", bot.transport.port)
    writer.write(raw)
    answer = await asyncio.wait_for(reader.read(100), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    text = "\n".join(log.lines)
    assert MARK not in text and "Traceback" not in text
    [line] = log.at_least(logging.INFO)
    assert line["reason"] == "bad_http" and line["status"] == 400


async def test_a_body_over_the_cap_is_413(start_bot: BotFactory, log: Lines) -> None:
    bot = await start_bot()
    log.lines.clear()
    body = (MARK * 40_000).encode()  # 320 kB
    response = await bot.http.post(bot.events_url, content=body, headers=signed_bytes_headers(body))
    assert response.status_code == 413
    assert_one_quiet_line(log, 413)


async def test_a_clock_off_by_ten_minutes_is_named(start_bot: BotFactory, log: Lines) -> None:
    bot = await start_bot()
    log.lines.clear()
    body = command_body(f"{ROOM} {JOB}", ALICE, CHANNEL, bot.slack.response_url())
    headers = signed_headers(body, timestamp=int(time.time()) - 600)
    response = await bot.http.post(bot.events_url, content=body, headers=headers)
    assert response.status_code == 401
    [line] = log.at_least(logging.WARNING)
    assert "this machine's clock is 10 min ahead of Slack's" in line["msg"]
    assert line["clock_skew_seconds"] in range(-602, -598)


async def test_the_same_request_in_time_still_works(start_bot: BotFactory) -> None:
    bot = await start_bot()
    response, hook = await bot.command(f"{ROOM} {JOB}")
    assert response.status_code == 200
    assert "stoplive.confirm" in json.dumps(await bot.first_post(hook))


async def test_an_action_id_must_match_exactly(start_bot: BotFactory) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    for lookalike in ("xstoplive.confirm", "stoplive.confirm2", "stoplive-confirm"):
        response, _ = await bot.click(lookalike, value)
        assert response.status_code == 404
    assert not bot.metastudio.calls("POST", "/stop")
    response, _ = await bot.click("stoplive.confirm", value)
    assert response.status_code == 200
    await bot.slack.wait_for(lambda: bot.metastudio.calls("POST", "/stop"))


async def test_ssl_check_is_answered(start_bot: BotFactory) -> None:
    bot = await start_bot()
    body = "ssl_check=1&token=x"
    response = await bot.http.post(bot.events_url, content=body, headers=signed_headers(body))
    assert response.status_code == 200


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=st.binary(max_size=600), signed=st.booleans(), json_type=st.booleans())
async def test_any_bytes_are_4xx_over_http(
    start_bot: BotFactory, body: bytes, signed: bool, json_type: bool
) -> None:
    bot = await one_bot(start_bot)
    kind = "application/json" if json_type else "application/x-www-form-urlencoded"
    headers = signed_bytes_headers(body, kind) if signed else {"Content-Type": kind}
    response = await bot.http.post(bot.events_url, content=body, headers=headers)
    assert response.status_code in (400, 401, 404)


_bots: dict[int, Harness] = {}


async def one_bot(start_bot: BotFactory) -> Harness:
    """One bot for all of a Hypothesis test's examples (the fixture outlives them)."""
    if id(start_bot) not in _bots:
        _bots[id(start_bot)] = await start_bot()
    return _bots[id(start_bot)]


# --- the checks themselves, without HTTP: total functions, whatever they are given ---------


@given(
    body=st.binary(max_size=2000),
    timestamp=st.none() | st.text(max_size=20),
    signature=st.none() | st.text(max_size=80),
)
def test_check_signature_never_raises(
    body: bytes, timestamp: str | None, signature: str | None
) -> None:
    refusal = check_signature(SIGNING_SECRET, body, timestamp, signature, time.time())
    assert refusal is not None and refusal.status == 401


@given(body=st.binary(max_size=2000), kind=st.sampled_from(list(CONTENT_TYPES.values())))
def test_sort_body_never_raises(body: bytes, kind: str) -> None:
    verdict = sort_body(body, kind)
    assert getattr(verdict, "status", 200) in (400, 404) or isinstance(verdict, Accepted)


# What a form's decoding can trip on: escapes good and bad (cut short, not hex, not UTF-8, an
# encoded surrogate), separators, "+", and U+FFFD sent as is.
FORM_PIECES = st.sampled_from(
    [
        *"ab=&+;%#?é€\ufffd\x00\n",
        *("%41", "%e2%82%ac", "%26", "%3D", "%2B", "%0A", "%EF%BF%BD"),  # good escapes
        *("%2", "%zz", "%ff", "%C3", "%ED%A0%80"),  # cut short, not hex, not UTF-8, surrogate
    ]
)


@settings(max_examples=2000)
@given(text=st.text() | st.lists(FORM_PIECES, max_size=40).map("".join))
def test_forms_are_read_as_the_stdlib_reads_them_strictly(text: str) -> None:
    """A form is read as parse_qsl reads it strictly: same fields, or a refusal (no
    exception), whatever the escapes."""
    try:
        strict = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        strict = None
    assert decode_form(text) == strict


@given(
    fields=st.dictionaries(
        st.sampled_from(["command", "user_id", "channel_id", "text", "response_url", "team_id"]),
        st.text(max_size=50),
    )
)
def test_sorted_forms_are_canonical_and_reread_the_same(fields: dict[str, str]) -> None:
    verdict = sort_body(urlencode(fields).encode(), CONTENT_TYPES["form"])
    if isinstance(verdict, Accepted):
        assert sort_body(urlencode(verdict.payload).encode(), CONTENT_TYPES["form"]) == verdict


def test_a_signed_request_is_accepted_by_check_signature() -> None:
    body = command()
    headers = signed_bytes_headers(body)
    assert (
        check_signature(
            SIGNING_SECRET,
            body,
            headers["X-Slack-Request-Timestamp"],
            headers["X-Slack-Signature"],
            time.time(),
        )
        is None
    )
    assert isinstance(httpx.Headers(headers), httpx.Headers)


def test_response_urls_must_point_at_slack() -> None:
    """Slack's own host is always allowed; a stand-in's only when SLACK_API_URL names it."""
    slack_form = command(response_url="https://hooks.slack.com/commands/T1/2/x")
    assert isinstance(sort_body(slack_form, CONTENT_TYPES["form"]), Accepted)
    local = command()  # http://127.0.0.1:9/hooks/x
    assert sort_body(local, CONTENT_TYPES["form"]) == Rejected(400, "foreign_response_url")
    allowed = frozenset({"hooks.slack.com", "127.0.0.1"})
    assert isinstance(sort_body(local, CONTENT_TYPES["form"], allowed), Accepted)


@pytest.mark.parametrize(
    ("response_url", "verdict"),
    [
        ("https://HOOKS.slack.com/commands/T1/2/x", "accepted"),
        ("https://hooks.slack.com:443/commands/T1/2/x", "accepted"),
        ("https://hooks.slack.com@evil.example/x", "foreign_response_url"),
        ("https://evil.example#@hooks.slack.com/x", "foreign_response_url"),
        ("https://evil.example?@hooks.slack.com/x", "foreign_response_url"),
        ("https://hooks.slack.com.evil.example/x", "foreign_response_url"),
        ("https://hooks.slack.com%2eevil.example/x", "foreign_response_url"),
        ("https://evil.example\\@hooks.slack.com/x", "bad_command"),
        ("https://xn--hooks-.slack.com/x", "bad_command"),
    ],
)
def test_a_response_url_is_judged_by_the_host_it_would_reach(
    response_url: str, verdict: str
) -> None:
    """The host checked is the one aiohttp (yarl) would connect to: no userinfo, fragment or
    query trick makes a foreign host pass for Slack's, and a URL it cannot parse is refused."""
    answer = sort_body(command(response_url=response_url), CONTENT_TYPES["form"])
    if verdict == "accepted":
        assert isinstance(answer, Accepted)
    else:
        assert answer == Rejected(400, verdict)


@pytest.mark.parametrize(
    "body",
    [
        {"command": "/stoplive", "user_id": ALICE, "channel_id": CHANNEL, "text": f"{ROOM} {JOB}"},
        good_click(),
        {"type": "event_callback", "event": {"type": "app_home_opened", "user": ALICE}},
    ],
    ids=["command", "click", "home opened"],
)
async def test_a_payload_that_reached_bolt_unchecked_is_acked_and_dropped(
    start_bot: BotFactory, log: Lines, body: dict[str, Any]
) -> None:
    """Both transports check a payload and hand the listener the checked model. Whatever
    reaches Bolt another way (no model beside it) does nothing but get its ack."""
    bot = await start_bot()
    response = await bot.stoplive.bolt.async_dispatch(
        AsyncBoltRequest(body=body, mode="socket_mode")
    )
    assert response.status == 200
    assert await bot.stoplive.background.drain(5)
    assert any("unchecked" in line for line in log.lines)
    assert bot.metastudio.calls() == [] and bot.slack.url_posts == []
