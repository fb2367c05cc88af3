"""The Events API: which bodies are ours (``app_home_opened``, ``url_verification``), which are
not, which are malformed; and the manifest that subscribes to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.inbound import JSON, sort_body
from bot.slack.payloads import Accepted, Rejected, malformed, not_ours, sort_event, sort_payload
from tests.harness import ALICE


def home_opened(**event: Any) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": "Ev0001",
        "event_time": 1700000000,
        "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": True}],
        "event": {
            "type": "app_home_opened",
            "user": ALICE,
            "channel": "D0001",
            "tab": "home",
            "event_ts": "1700000000.000100",
            "view": {"id": "V1", "blocks": [{"type": "section"}] * 3},
            **event,
        },
    }


def test_home_opened_is_ours_and_only_what_we_read_goes_on() -> None:
    sorted_ = sort_event(home_opened())
    assert isinstance(sorted_, Accepted) and sorted_.kind == "event"
    assert sorted_.payload == {
        "type": "event_callback",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event_id": "Ev0001",
        "event_time": 1700000000,
        "event": {
            "type": "app_home_opened",
            "user": ALICE,
            "tab": "home",
            "channel": "D0001",
            "event_ts": "1700000000.000100",
        },
    }
    messages_tab = sort_event(home_opened(tab="messages"))  # acked; the listener skips it
    assert isinstance(messages_tab, Accepted)


def test_url_verification_is_answered_with_its_challenge_only() -> None:
    verdict = sort_body(
        json.dumps({"type": "url_verification", "challenge": "c-1", "token": "t"}).encode(), JSON
    )
    assert verdict == Accepted("url_verification", {"type": "url_verification", "challenge": "c-1"})


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (home_opened(user=["U0ALICE01"]), malformed("bad_event")),
        (home_opened(user="not an id"), malformed("bad_event")),
        (home_opened(tab=5), malformed("bad_event")),
        ({**home_opened(), "team_id": 5}, malformed("bad_event")),
        ({"type": "event_callback", "event": "x"}, malformed("bad_event")),
        ({"type": "event_callback", "event": {"type": 5}}, malformed("bad_event")),
        ({"type": "event_callback"}, malformed("bad_event")),
        ({"type": "url_verification", "challenge": ""}, malformed("bad_url_verification")),
        ({"type": "url_verification", "challenge": "x" * 201}, malformed("bad_url_verification")),
        ({"type": "event_callback", "event": {"type": "message"}}, not_ours("message")),
        ({"type": "app_rate_limited"}, not_ours("app_rate_limited")),
        ({"command": "/stoplive"}, malformed("no_type")),
        ([], malformed("not_an_object")),
    ],
)
def test_events_we_do_not_read_or_cannot_trust_go_no_further(body: object, verdict: object) -> None:
    assert sort_event(body) == verdict


def test_an_event_is_never_taken_as_a_click_nor_a_click_as_an_event() -> None:
    """Events come as JSON, commands and clicks as forms: each has its own sorter."""
    assert sort_payload(home_opened()) == not_ours("event_callback")
    form = "payload=" + json.dumps(home_opened())
    assert sort_body(form.encode(), "application/x-www-form-urlencoded") == Rejected(
        404, "not_handled", kind="event_callback"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(
    event=st.dictionaries(
        st.sampled_from(["type", "user", "tab", "channel", "event_ts"]),
        json_values | st.just("app_home_opened"),
    ),
    outer=st.dictionaries(st.sampled_from(["team_id", "api_app_id", "event_time"]), json_values),
)
def test_sort_event_never_raises_and_keeps_only_checked_fields(
    event: dict[str, Any], outer: dict[str, Any]
) -> None:
    verdict = sort_event({"type": "event_callback", "event": event, **outer})
    if isinstance(verdict, Accepted):
        reread = sort_event(verdict.payload)
        assert reread == verdict  # the canonical form is itself well-formed, and the same
        assert set(verdict.payload["event"]) <= {"type", "user", "tab", "channel", "event_ts"}


def test_the_manifest_subscribes_to_the_home_tab() -> None:
    manifest = yaml.safe_load(Path("manifest.yml").read_text())
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
