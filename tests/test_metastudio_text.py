"""Properties of what the client reads from servers: safe error text, HTTP dates, times, and
any 2xx body whatsoever (Hypothesis)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.metastudio import MetaStudioClient, UnreadableAnswer
from bot.metastudio.errors import clock_skew_words
from bot.metastudio.models import parse_time
from bot.metastudio.retry import parse_retry_after
from bot.metastudio.text import ELLIPSIS, parse_http_date, safe_text
from bot.sandbox.standins.metastudio import Fault, MetaStudioStandIn
from tests.builders import JOB, ROOM

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.text(), st.integers(min_value=1, max_value=400))
def test_safe_text_is_one_short_printable_line(value: str, limit: int) -> None:
    shown = safe_text(value, limit)
    assert len(shown) <= limit
    assert not any(unicodedata.category(c).startswith("C") for c in shown)
    assert ("  " not in shown and shown == shown.strip()) or shown.endswith(ELLIPSIS)


@given(st.from_regex(r"[A-Za-z0-9.,:]+( [A-Za-z0-9.,:]+)*", fullmatch=True))
def test_safe_text_keeps_short_clean_text_as_it_is(value: str) -> None:
    assert safe_text(value, len(value)) == value
    if len(value) > 1:
        assert safe_text(value, len(value) - 1).endswith(ELLIPSIS)


def safe_text_by_definition(value: str, limit: int) -> str:
    """safe_text as its docstring defines it, character by character (no fast path)."""
    inspected = value[: limit * 2 + 16]
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in inspected)
    words = " ".join(cleaned.split())
    if len(words) <= limit and len(inspected) == len(value):
        return words
    return words[: max(limit - 1, 0)].rstrip() + ELLIPSIS


@given(st.text() | st.text(st.characters(codec="utf-8"), max_size=300), st.integers(1, 200))
def test_safe_text_is_its_definition_fast_path_or_not(value: str, limit: int) -> None:
    assert safe_text(value, limit) == safe_text_by_definition(value, limit)


@given(JSON)
def test_safe_text_takes_anything(value: Any) -> None:
    assert len(safe_text(value, 50)) <= 50


@given(st.text())
def test_http_dates_and_retry_after_never_raise(value: str) -> None:
    when = parse_http_date(value)
    assert when is None or when.tzinfo is not None
    after = parse_retry_after(value)
    assert after is None or after >= 0


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1)))
def test_http_dates_round_trip(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    assert parse_http_date(format_datetime(moment, usegmt=True)) == moment


@given(JSON)
def test_parse_time_takes_anything(value: Any) -> None:
    parsed = parse_time(value)
    assert parsed is None or parsed.tzinfo is not None


# The stand-in and client are shared by the examples on purpose: each example sets its own
# answer (a fault used once), and nothing else about them changes.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON | st.dictionaries(st.sampled_from(["job_id", "state", "room_id"]), JSON))
async def test_any_2xx_job_body_is_a_job_or_unreadable(
    client: MetaStudioClient, metastudio: MetaStudioStandIn, body: Any
) -> None:
    metastudio.inject(JOB, Fault("status", on="get", status=200, body=body))
    try:
        job = await client.get_job(ROOM, JOB, "ops-alice")
    except UnreadableAnswer as exc:
        assert exc.request_id.startswith("rid-") and len(exc.detail) <= 200
    else:
        assert (job.job_id, job.room_id) == (JOB, ROOM) and isinstance(job.state, str)


@given(st.floats(min_value=-1e7, max_value=1e7))
def test_clock_skew_words_say_how_far_and_which_way(seconds: float) -> None:
    words = clock_skew_words(seconds)
    assert words.startswith(f"this machine's clock is {round(abs(seconds) / 60)} min off (")
    assert ("ahead of MetaStudio's" in words) == (seconds > 0)
    assert ("behind MetaStudio's" in words) == (seconds <= 0)
