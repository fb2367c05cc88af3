"""A room-name search at its edges: one character and 256 are fine, 257 and blank are refused
with a message that says the rule. (Written against mutmut's survivors in ``ids.py``.)"""

from __future__ import annotations

import pytest

from bot.metastudio.ids import ROOM_NAME_MAX, InvalidId, check_room_name, path_segment


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
