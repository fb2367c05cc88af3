"""The sandbox's Slack renderer: mrkdwn and Block Kit as the terminal shows them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox.mrkdwn import Names, decode_entities, inline, message
from bot.stopflow.tickets import TicketKey
from bot.stopflow.words import actions, to_requester
from bot.stopflow.words.markup import data, one_line, words
from tests import builders

NAMES = Names(users={"U0ALICE01": "alice"}, channels={"C0INCIDENT": "incidents"})


def spans(text: str) -> list[tuple[str, str]]:
    """(piece, style) of every styled piece of rendered text."""
    rendered = inline(text, NAMES)
    return [(rendered.plain[s.start : s.end], str(s.style)) for s in rendered.spans]


def test_bold_code_and_emoji_are_rendered_without_their_markers() -> None:
    rendered = inline(":rotating_light: *Stop this livestream?* job `26f0-ab`", NAMES)
    assert rendered.plain == "🚨 Stop this livestream? job 26f0-ab"
    assert ("Stop this livestream?", "bold") in spans(
        ":rotating_light: *Stop this livestream?* job `26f0-ab`"
    )
    assert ("26f0-ab", "cyan") in spans("job `26f0-ab`")


def test_mentions_channels_dates_and_links_read_as_names() -> None:
    text = (
        "<@U0ALICE01> in <#C0INCIDENT> and <#C0OTHER|ops> at "
        "<!date^1700000000^{time}|14:03 UTC>, see <https://x.example/a|the console> <!here>"
    )
    assert inline(text, NAMES).plain == (
        "@alice in #incidents and #ops at 14:03 UTC, see the console @here"
    )
    assert inline("<@U0UNKNOWN>", NAMES).plain == "@U0UNKNOWN"


def test_entities_are_decoded_last_so_escaped_markup_stays_text() -> None:
    assert inline("a &lt;@U0ALICE01&gt; &amp;lt; b", NAMES).plain == "a <@U0ALICE01> &lt; b"
    assert decode_entities("&amp;gt;") == "&gt;"


def test_times_and_unknown_emoji_names_are_left_alone() -> None:
    assert inline("ended 14:03:05 UTC :not_an_emoji_name:", NAMES).plain == (
        "ended 14:03:05 UTC :not_an_emoji_name:"
    )
    assert inline(":octagonal_sign: stopped", NAMES).plain == "🛑 stopped"


def test_ids_with_underscores_and_stars_inside_words_are_not_styled() -> None:
    assert spans("ops_alice_2 and 2*3*4") == []


def test_the_confirmation_shows_its_facts_and_numbers_its_buttons() -> None:
    ticket = builders.ticket(response_url="http://127.0.0.1/hooks/x")
    reply = to_requester.confirmation(
        ticket,
        "ops-alice",
        None,
        None,
        300,
        datetime.now(UTC),
        cancel=ticket.for_purpose("cancel", TicketKey(b"k" * 32)),
    )
    shown = message(json.loads(json.dumps(reply.payload())), NAMES)  # as posted, over JSON
    text = "\n".join(line.plain for line in shown.lines)
    assert "24bad716-87b1-45e5-8912-6102f7693265" in text and "ops-alice" in text
    assert "`" not in text and "*" not in text and "&" not in text and "<" not in text
    assert shown.lines[-1].plain == "[1] Stop stream  [2] Cancel"
    assert [b.action_id for b in shown.buttons] == [actions.CONFIRM_ACTION, actions.CANCEL_ACTION]
    assert shown.buttons[0].value == ticket.encode() and shown.buttons[0].style == "danger"
    assert shown.buttons[0].block_id == "stoplive.confirmation"


def test_accessory_buttons_are_numbered_across_the_message() -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*2 live jobs*"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "`job-1`"},
            "accessory": _button("Stop…", "stoplive.pick", "v1"),
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "`job-2`"},
            "accessory": _button("Stop…", "stoplive.pick", "v2"),
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Nothing is stopped yet."}]},
    ]
    shown = message({"text": "fallback", "blocks": json.dumps(blocks)}, NAMES)
    assert [line.plain for line in shown.lines] == [
        "2 live jobs",
        "job-1",
        "[1] Stop…",
        "job-2",
        "[2] Stop…",
        "Nothing is stopped yet.",
    ]
    assert [b.value for b in shown.buttons] == ["v1", "v2"]


def test_link_buttons_carry_their_url() -> None:
    link = _button("Open in MetaStudio", "stoplive.open_console", "")
    link["url"] = "https://console.example/job/1"
    shown = message({"blocks": [{"type": "actions", "elements": [link]}]}, NAMES)
    assert shown.lines[0].plain == "[1] Open in MetaStudio ↗"
    assert shown.buttons[0].url == "https://console.example/job/1"


def test_text_alone_is_shown_when_there_are_no_blocks() -> None:
    shown = message({"text": ":x: Cancelled.\nsecond line"}, NAMES)
    assert [line.plain for line in shown.lines] == ["❌ Cancelled.", "second line"]
    assert shown.buttons == []


def test_control_characters_never_reach_the_terminal() -> None:
    shown = message({"text": "job \x1b[2J`\x1b]0;pwned\x07` *\x9b31m*"}, NAMES)
    assert all(ord(c) >= 32 or c in "\t" for line in shown.lines for c in line.plain)
    assert shown.lines[0].plain.count("\ufffd") == 4


def test_malformed_blocks_are_shown_as_unreadable_not_raised() -> None:
    shown = message(
        {"blocks": [7, {"type": "section", "text": 3}, {"type": "video"}, {"type": "actions"}]},
        NAMES,
    )
    assert [line.plain for line in shown.lines] == [
        "[unreadable block]",
        "[unreadable text]",
        "[video block]",
        "",
    ]


def _button(label: str, action_id: str, value: str) -> dict[str, object]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


@given(st.text())
def test_any_text_renders(text: str) -> None:
    rendered = inline(text, NAMES)
    assert len(rendered.plain) <= len(text) + 2 * text.count(":")  # emoji: no growth to speak of


SHOWABLE = st.text(
    alphabet=st.characters(blacklist_categories=["C", "Z"], blacklist_characters="`@"),
    min_size=1,
    max_size=60,
)


@given(SHOWABLE)
def test_foreign_text_shown_as_data_reads_back_as_it_was(text: str) -> None:
    """Whatever the bot quotes as data (IDs, room names, MetaStudio's words) reads back as it
    was: the renderer undoes exactly Slack's escaping, nothing more."""
    assert one_line(text) == text
    assert inline(data(text, 200), NAMES).plain == text


@given(SHOWABLE.filter(lambda t: not any(c in t for c in "*_~:{}")))
def test_our_own_words_read_back_as_written(text: str) -> None:
    assert inline(words(text), NAMES).plain == text


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["type", "text", "blocks", "elements", "accessory", "fields"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_any_json_message_renders(payload: object) -> None:
    if isinstance(payload, dict):
        message(payload, NAMES)
