"""Sealed confirmation tickets: any string opens to a Ticket or a refusal, never an exception,
and no edit of a valid value survives."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stopflow.tickets import MAX_VALUE, NotOurs, Ticket, TicketKey

KEY = TicketKey.from_signing_secret("8f742231b10e8888abcd99yyyzzz85a5")
TTL = 300
NOW = 1_800_000_000.0


def issue(**changes: object) -> Ticket:
    values: dict[str, object] = {
        "key": KEY,
        "room_id": "24bad716-87b1-45e5-8912-6102f7693265",
        "job_id": "26f06524-4f75-4b3a-a853-b649a21aaf66",
        "requester": "U0ALICE01",
        "channel_id": "C0INCIDENT",
        "ttl": TTL,
        "response_url": "https://hooks.slack.com/actions/T0001/1234567890/abcdefABCDEF0123456789",
        "now": NOW,
    }
    values.update(changes)
    return Ticket.issue(**values)  # type: ignore[arg-type]


def reseal(payload: list[object], key: TicketKey = KEY) -> str:
    """A value sealed with ``key`` around any payload: what a forger with the key could make."""
    text = json.dumps(payload, separators=(",", ":"))
    return f"t2.{key.mac(text)}.{text}"


def test_round_trip_keeps_every_field() -> None:
    ticket = issue()
    opened = Ticket.decode(ticket.encode(), KEY, TTL, purpose="confirm")
    assert opened == ticket and not ticket.expired(NOW) and ticket.expired(NOW + TTL)
    assert len(ticket.encode()) < MAX_VALUE


def test_a_longest_ticket_still_fits_a_button() -> None:
    ticket = issue(room_id="r" * 64, job_id="j" * 64, response_url="https://x/" + "a" * 1014)
    assert len(ticket.encode()) <= MAX_VALUE


def test_the_key_comes_from_the_signing_secret_and_is_not_it() -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    other = TicketKey.from_signing_secret("another-secret")
    value = issue().encode()
    assert isinstance(
        Ticket.decode(value, TicketKey.from_signing_secret(secret), TTL, purpose="confirm"), Ticket
    )
    assert Ticket.decode(value, other, TTL, purpose="confirm") == NotOurs("MAC does not match")
    plain = hmac.new(secret.encode(), b"t1." + value.split(".", 2)[2].encode(), hashlib.sha256)
    assert base64.urlsafe_b64encode(plain.digest()).rstrip(b"=").decode() not in value
    assert "8f74" not in repr(KEY)
    with pytest.raises(ValueError):
        TicketKey.from_signing_secret("")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (6, 9.9e12),  # expires_at far in the future
        (6, "9e99"),  # a string where a time goes (crashed the click handler once)
        (6, float("nan")),
        (6, float("inf")),
        (6, 10**400),
        (5, NOW + 400),  # issued after it expires
        (6, True),
        (1, "../other-room"),
        (2, ["job"]),
        (3, None),
    ],
)
def test_even_a_validly_sealed_payload_must_make_sense(field: int, value: object) -> None:
    ticket = issue()
    payload: list[object] = [
        ticket.id,
        ticket.room_id,
        ticket.job_id,
        ticket.requester,
        ticket.channel_id,
        ticket.issued_at,
        ticket.expires_at,
        ticket.response_url,
    ]
    payload[field] = value
    assert isinstance(Ticket.decode(reseal(payload), KEY, TTL, purpose="confirm"), NotOurs)


def test_an_expiry_beyond_the_confirmation_window_is_refused() -> None:
    ticket = issue(ttl=TTL + 1)
    assert Ticket.decode(ticket.encode(), KEY, TTL, purpose="confirm") == NotOurs(
        "expiry is outside the confirmation window"
    )
    assert isinstance(Ticket.decode(issue(ttl=TTL).encode(), KEY, TTL, purpose="confirm"), Ticket)


def test_the_old_plain_json_value_is_not_ours() -> None:
    old = json.dumps({"id": "x", "room_id": "r", "job_id": "j", "expires_at": 9.9e12})
    assert isinstance(Ticket.decode(old, KEY, TTL, purpose="confirm"), NotOurs)


@settings(max_examples=300)
@given(st.one_of(st.text(), st.text(alphabet='t1.{}[]",0123456789abc-_'), st.binary()))
def test_any_string_opens_to_a_ticket_or_a_refusal(value: object) -> None:
    opened = Ticket.decode(value, KEY, TTL, purpose="confirm")
    assert isinstance(opened, NotOurs)  # a random string never carries our MAC


@settings(max_examples=500)
@given(st.data())
def test_any_single_character_change_is_refused(data: st.DataObject) -> None:
    value = issue().encode()
    at = data.draw(st.integers(0, len(value) - 1), label="position")
    change = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="change")
    char = data.draw(st.characters(), label="char")
    if change == "replace":
        if char == value[at]:
            return
        edited = value[:at] + char + value[at + 1 :]
    elif change == "delete":
        edited = value[:at] + value[at + 1 :]
    else:
        edited = value[:at] + char + value[at:]
    assert isinstance(Ticket.decode(edited, KEY, TTL, purpose="confirm"), NotOurs)


@given(
    room=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True),
    job=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True),
    url=st.text(max_size=1100),
    ttl=st.integers(1, 3600),
)
def test_every_issued_ticket_fits_and_opens(room: str, job: str, url: str, ttl: int) -> None:
    ticket = issue(room_id=room, job_id=job, response_url=url, ttl=ttl)
    assert len(ticket.encode()) <= MAX_VALUE
    assert Ticket.decode(ticket.encode(), KEY, ttl, purpose="confirm") == ticket


PURPOSES = ("pick", "confirm", "cancel")


@pytest.mark.parametrize("sealed_for", PURPOSES)
@pytest.mark.parametrize("clicked", PURPOSES)
def test_a_ticket_opens_only_for_the_button_it_was_sealed_for(
    sealed_for: str, clicked: str
) -> None:
    """A pick's "Stop…" value sent with the Stop button's action_id must not stop the job
    without the confirmation step; nor may a Cancel value stand in for a Stop."""
    ticket = issue(purpose=sealed_for)
    opened = Ticket.decode(ticket.encode(), KEY, TTL, purpose=clicked)
    if clicked == sealed_for:
        assert opened == ticket and opened.purpose == clicked
    else:
        assert opened == NotOurs(f"sealed for another button ({sealed_for!r}), not {clicked!r}")


def test_a_confirmations_cancel_is_the_same_ticket_for_another_button() -> None:
    stop = issue(purpose="confirm")
    cancel = stop.for_purpose("cancel", KEY)
    assert cancel.encode() != stop.encode()
    assert (cancel.id, cancel.room_id, cancel.job_id, cancel.expires_at) == (
        stop.id,
        stop.room_id,
        stop.job_id,
        stop.expires_at,
    )
    assert Ticket.decode(cancel.encode(), KEY, TTL, purpose="cancel") == cancel
    with pytest.raises(ValueError, match="unknown ticket purpose"):
        stop.for_purpose("stop", KEY)
    with pytest.raises(ValueError, match="unknown ticket purpose"):
        issue(purpose="")


def test_the_room_name_confirmed_travels_with_the_ticket() -> None:
    ticket = issue(room_name="Product launch")
    opened = Ticket.decode(ticket.encode(), KEY, TTL, purpose="confirm")
    assert isinstance(opened, Ticket) and opened.room_name == "Product launch"
    assert issue().room_name == "" and issue(room_name="名" * 500).room_name == "名" * 80


def test_a_long_name_gives_way_to_the_response_url_and_the_value_still_fits() -> None:
    url = "https://x/" + "a" * 1300
    ticket = issue(room_id="r" * 64, job_id="j" * 64, response_url=url, room_name="\u202e" * 80)
    assert len(ticket.encode()) <= MAX_VALUE
    assert ticket.response_url == url and ticket.room_name == ""
