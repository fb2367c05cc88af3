"""MetaStudio IDs: what may reach a URL path or a header, exactly; and a room-name search at its
edges (one character and 256 are fine, 257 and blank are refused with a message that says the
rule; written against mutmut's survivors in ``ids.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.metastudio.ids import (
    ROOM_NAME_MAX,
    InvalidId,
    check_app_user_id,
    check_resource_id,
    check_room_name,
    path_segment,
)


@pytest.mark.parametrize(
    "value", ["a", "0", "24bad716-87b1-45e5-8912-6102f7693265", "A_b-9", "x" * 64]
)
def test_resource_ids_that_pass(value: str) -> None:
    assert check_resource_id("room ID", value) == value


@pytest.mark.parametrize(
    "value", ["", "-a", "_a", "a/b", "a.b", "a b", "a?b", "a#b", "x" * 65, "é", "a\n", "%2e"]
)
def test_resource_ids_refused_with_their_kind(value: str) -> None:
    with pytest.raises(InvalidId) as raised:
        check_resource_id("job ID", value)
    assert str(raised.value) == (
        "job ID must be 1-64 letters, digits, '-' or '_' (like a UUID), starting with a "
        "letter or digit"
    )


@pytest.mark.parametrize("value", ["!", "~", "ops-alice", "a" * 64, "a@b.c"])
def test_app_user_ids_that_pass(value: str) -> None:
    assert check_app_user_id(value) == value


@pytest.mark.parametrize("value", ["", " ", "a b", "张三", "a" * 65, "a\r\nX: y", "\x7f"])
def test_app_user_ids_refused(value: str) -> None:
    with pytest.raises(InvalidId) as raised:
        check_app_user_id(value)
    assert str(raised.value) == (
        "a MetaStudio app user ID must be 1-64 printable ASCII characters without spaces "
        "(the API does not accept Chinese characters)"
    )


@pytest.mark.parametrize(
    ("value", "segment"),
    [("a/b", "a%2Fb"), ("..", ".."), ("a b?#", "a%20b%3F%23"), ("é", "%C3%A9")],
)
def test_path_segment_is_one_segment(value: str, segment: str) -> None:
    assert path_segment(value) == segment


@given(st.text())
def test_any_text_is_a_checked_id_or_refused(value: str) -> None:
    try:
        checked = check_resource_id("room ID", value)
    except InvalidId:
        return
    assert path_segment(checked) == checked and len(checked) <= 64


def test_a_room_name_of_one_to_256_characters_may_be_searched() -> None:
    assert check_room_name(" a ") == "a"
    assert check_room_name("x" * ROOM_NAME_MAX) == "x" * ROOM_NAME_MAX


@pytest.mark.parametrize("name", ["", "   ", "x" * (ROOM_NAME_MAX + 1), "a\x00b", "a\u202eb"])
def test_a_room_name_that_cannot_be_sent_is_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidId, match=r"^a room name to search for must be 1-256 printable"):
        check_room_name(name)


def test_a_path_segment_keeps_letters_and_encodes_everything_else() -> None:
    assert path_segment("AXz09-_.~") == "AXz09-_.~"
    assert path_segment("a/b?c#d e") == "a%2Fb%3Fc%23d%20e"
