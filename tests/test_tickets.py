"""Sealed confirmation tickets: any string opens to a Ticket or a refusal, never an exception,
and no edit of a valid value survives. Then tickets at their edges: the exact reason each bad value
is refused (it goes to the audit log), the 2000-character boundary, the expiry window's edges, the
clock, and the key's derivation (written against mutmut's survivors in
``bot/stopflow/tickets.py``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stopflow.tickets import MAX_VALUE, NotOurs, Ticket, TicketKey
from tests.builders import JOB, ROOM, ticket

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
KEY = TicketKey.from_signing_secret(SECRET)
TTL = 300
NOW = 1_800_000_000.0
URL = "https://hooks.slack.com/actions/T0001/1234567890/abcdefABCDEF0123456789"


def issue(**changes: object) -> Ticket:
    """A ticket of the shared builder's stop, sealed with this file's key at NOW."""
    return ticket(**({"key": KEY, "ttl": TTL, "response_url": URL, "now": NOW} | changes))


def reseal(payload: object, key: TicketKey = KEY) -> str:
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


def fields(**changes: object) -> list[object]:
    names = ["id", "room", "job", "requester", "channel", "issued", "expires", "url", "purpose"]
    names.append("room_name")
    values: dict[str, object] = dict(
        zip(
            names,
            ["abc", ROOM, JOB, "U0ALICE01", "C1", NOW, NOW + TTL, URL, "confirm", "Night market"],
            strict=True,
        )
    )
    values.update(changes)
    return [values[name] for name in names]


def reason(value: object) -> str:
    opened = Ticket.decode(value, KEY, TTL, purpose="confirm")
    assert isinstance(opened, NotOurs)
    return opened.reason


def test_the_key_is_hkdf_sha256_of_the_signing_secret() -> None:
    """RFC 5869 with no salt (HashLen zero bytes) and the label as ``info``, one block."""
    prk = hmac.new(bytes(32), SECRET.encode(), hashlib.sha256).digest()
    okm = hmac.new(prk, b"stoplive ticket mac v1\x01", hashlib.sha256).digest()
    payload = '["x"]'
    expected = hmac.new(okm, b"t2." + payload.encode(), hashlib.sha256).digest()
    assert KEY.mac(payload) == base64.urlsafe_b64encode(expected).rstrip(b"=").decode()


def test_every_mac_is_43_base64url_characters() -> None:
    macs = [KEY.mac(str(n)) for n in range(1000)]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", mac) for mac in macs)


def test_the_key_refuses_short_keys_and_empty_secrets_and_hides_itself() -> None:
    with pytest.raises(ValueError, match=r"^a ticket key needs at least 32 bytes$"):
        TicketKey(bytes(31))
    with pytest.raises(ValueError, match=r"^the Slack signing secret is empty$"):
        TicketKey.from_signing_secret("")
    assert repr(KEY) == "TicketKey(…)"


def test_a_ticket_built_by_hand_has_no_value() -> None:
    bare = Ticket("i", ROOM, JOB, "U1", "C1", NOW, NOW + TTL, URL)
    with pytest.raises(ValueError, match=r"^this ticket was not issued with a key$"):
        bare.encode()


def test_times_are_kept_to_the_millisecond_and_ids_are_short() -> None:
    ticket = issue(now=NOW + 0.123456, ttl=12.3456)
    assert ticket.issued_at == NOW + 0.123
    assert ticket.expires_at == round(NOW + 0.123 + 12.3456, 3)
    assert isinstance(ticket.issued_at, float)
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", ticket.id)
    assert issue().id != issue().id


def test_the_payload_is_compact_json() -> None:
    ticket = issue()
    payload = ticket.encode().split(".", 2)[2]
    assert payload == json.dumps(json.loads(payload), separators=(",", ":"))
    assert ", " not in payload


def test_a_value_of_exactly_2000_characters_is_kept_and_opens() -> None:
    base = len(issue(response_url="").encode())
    url = "https://x/" + "a" * (MAX_VALUE - base - 10)
    ticket = issue(response_url=url)
    assert len(ticket.encode()) == MAX_VALUE and ticket.response_url == url
    assert Ticket.decode(ticket.encode(), KEY, TTL, purpose="confirm") == ticket


def test_a_response_url_that_would_not_fit_is_left_out() -> None:
    base = len(issue(response_url="").encode())
    ticket = issue(response_url="https://x/" + "a" * (MAX_VALUE - base - 9))
    assert ticket.response_url == "" and len(ticket.encode()) == base
    assert Ticket.decode(ticket.encode(), KEY, TTL, purpose="confirm") == ticket


def test_expired_reads_the_clock_when_not_given_a_time() -> None:
    assert not issue(now=time.time()).expired()
    assert issue(now=time.time() - TTL - 1).expired()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("t2.é", "not an ASCII string of at most 2000 characters"),
        ("t2." + "a" * 43 + "." + "x" * (MAX_VALUE - 47), "MAC does not match"),
        (
            "t2." + "a" * 43 + "." + "x" * (MAX_VALUE - 46),
            "not an ASCII string of at most 2000 characters",
        ),
        (b"t2", "not an ASCII string of at most 2000 characters"),
        ("t1." + "a" * 43 + ".[]", "not a stoplive ticket"),  # before purposes were sealed
        ("t3." + "a" * 43 + ".[]", "not a stoplive ticket"),
        ("t2." + "a" * 42 + ".[]", "not a stoplive ticket"),
    ],
)
def test_an_unsealed_value_is_refused_for_what_it_is(value: object, why: str) -> None:
    assert reason(value) == why


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("not json", "payload is not JSON"),
        (fields()[:7], "payload has the wrong shape"),
        (fields()[:9], "payload has the wrong shape"),  # no room name
        ([*fields(), 1], "payload has the wrong shape"),
        (fields(room_name=1), "a text field is not text"),
        ({str(n): n for n in range(8)}, "payload has the wrong shape"),
        (12345678, "payload has the wrong shape"),
        (fields(requester=None), "a text field is not text"),
        (fields(url=1), "a text field is not text"),
        (fields(issued="1800000000"), "a time is not a number"),
        (fields(expires="9e99"), "a time is not a number"),
        (fields(expires=True), "a time is not a number"),
        (fields(expires=10**400), "a time is out of range"),
        (fields(issued=float("nan")), "a time is not finite"),
        (fields(expires=float("inf")), "a time is not finite"),
        (fields(expires=NOW), "expiry is outside the confirmation window"),
        (fields(expires=NOW + TTL + 1), "expiry is outside the confirmation window"),
    ],
)
def test_a_sealed_payload_is_refused_for_what_is_wrong(payload: object, why: str) -> None:
    value = reseal(payload) if not isinstance(payload, str) else f"t2.{KEY.mac(payload)}.{payload}"
    assert reason(value) == why


def test_a_bad_id_in_a_sealed_payload_is_named() -> None:
    room_reason = reason(reseal(fields(room="../x")))
    job_reason = reason(reseal(fields(job="a/b")))
    assert room_reason.startswith("room ID must be 1-64 letters")
    assert job_reason.startswith("job ID must be 1-64 letters")


def test_the_window_allows_a_millisecond_of_rounding_and_no_more() -> None:
    assert isinstance(
        Ticket.decode(issue(now=0.0, ttl=TTL + 0.001).encode(), KEY, TTL, purpose="confirm"), Ticket
    )
    assert isinstance(
        Ticket.decode(issue(now=0.0, ttl=TTL + 0.002).encode(), KEY, TTL, purpose="confirm"),
        NotOurs,
    )
    assert reason(issue(ttl=0).encode()) == "expiry is outside the confirmation window"


@pytest.mark.parametrize(
    ("purpose", "shown"),
    [
        ("x" * 18, "'" + "x" * 18 + "'"),  # 20 characters: shown whole
        ("x" * 19, "'" + "x" * 16 + "..."),  # 21: cut to 20
        (7, "7"),
        (None, "None"),
    ],
)
def test_a_ticket_sealed_for_another_purpose_names_it_briefly(purpose: object, shown: str) -> None:
    assert reason(reseal(fields(purpose=purpose))) == (
        f"sealed for another button ({shown}), not 'confirm'"
    )


def test_every_purpose_seals_and_opens_and_no_other_is_issued() -> None:
    for purpose in ("pick", "confirm", "cancel"):
        ticket = issue(purpose=purpose)
        assert ticket.purpose == purpose
        assert Ticket.decode(ticket.encode(), KEY, TTL, purpose=purpose) == ticket
        assert json.loads(ticket.encode().split(".", 2)[2])[8] == purpose
    for wrong in ("", "Confirm", "stop"):
        with pytest.raises(ValueError, match=f"unknown ticket purpose {wrong!r}"):
            issue(purpose=wrong)
