"""What ``/stoplive`` makes of any text: help, a list, a room-name search, IDs, or a kind refusal."""

from __future__ import annotations

import re
import unicodedata
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.metastudio.ids import check_resource_id, check_room_name
from bot.stopflow.command import (
    QUERY_MAX,
    ListLive,
    RoomSearch,
    ShowHelp,
    ShowRecent,
    StopTarget,
    UsageError,
    is_id,
    parse,
)

ROOM = "24bad716-87b1-45e5-8912-6102f7693265"
JOB = "26F06524-4F75-4B3A-A853-B649A21AAF66"  # upper case is still an ID
HEX32 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", ListLive()),
        ("   \n ", ListLive()),
        ("list", ListLive()),
        (" LIST ", ListLive()),
        ("help", ShowHelp()),
        ("  HELP ", ShowHelp()),
        ("?", ShowHelp()),
        ("--help", ShowHelp()),
        ("spring", RoomSearch("spring")),
        ("  spring   gala ", RoomSearch("spring gala")),
        ("spring\tgala\u3000night", RoomSearch("spring gala night")),
        ("help me", RoomSearch("help me")),
        ("list rooms", RoomSearch("list rooms")),
        ("recent", ShowRecent()),
        (" RECENT ", ShowRecent()),
        ("recent sale", RoomSearch("recent sale")),
        ("春季 晚会", RoomSearch("春季 晚会")),
        ("<!channel> *bold*", RoomSearch("<!channel> *bold*")),
        ("room-1 job-1", RoomSearch("room-1 job-1")),  # not MetaStudio IDs: words
        ("24bad716", RoomSearch("24bad716")),  # a short ID is a word (of a name)
        (ROOM, StopTarget(ROOM, None)),
        (HEX32, StopTarget(HEX32, None)),
        (f" {ROOM}  {JOB} ", StopTarget(ROOM, JOB)),
        (f"{ROOM} {HEX32}", StopTarget(ROOM, HEX32)),
    ],
)
def test_what_the_text_means(text: str, parsed: object) -> None:
    assert parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"{ROOM} {JOB} {JOB}", "3 words"),
        (f"{ROOM} ended-job", "after the room ID I expected a job ID"),
        (f"{ROOM} ../../stop", "after the room ID I expected a job ID"),
        (f"{ROOM} <!here>", "after the room ID I expected a job ID"),
        (f"spring {ROOM}", "mixes words with an ID"),
        (f"spring gala {HEX32}", "mixes words with an ID"),
        ("x" * (QUERY_MAX + 1), f"at most {QUERY_MAX} characters"),
        ("spring\x00gala", "U+0000"),
        ("spring\u200bgala", "U+200B"),
        ("\u202espring", "U+202E"),
        ("spring\ud800", "U+D800"),
    ],
)
def test_what_cannot_be_a_request_is_refused_kindly(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        parse(text)


def test_an_id_is_a_uuid_or_32_hex_digits_and_nothing_else() -> None:
    assert is_id(ROOM) and is_id(JOB) and is_id(HEX32) and is_id(ROOM.replace("-", ""))
    assert not is_id(ROOM[:-1]) and not is_id(ROOM + "0") and not is_id(HEX32 + "0")
    assert not is_id("24bad71687b1-45e5-8912-6102f7693265")  # dashes all or none
    assert not is_id(ROOM.replace("a", "g")) and not is_id("room-1")


def test_a_query_of_exactly_the_limit_is_a_search() -> None:
    assert parse("x" * QUERY_MAX) == RoomSearch("x" * QUERY_MAX)


@given(st.text(max_size=200))
def test_text_with_an_invisible_character_is_refused_and_any_other_is_not_for_that(
    text: str,
) -> None:
    invisible = [c for c in text if not c.isspace() and unicodedata.category(c)[0] == "C"]
    try:
        parse(text)
    except UsageError as exc:
        assert ("invisible or control character" in str(exc)) == bool(invisible)
    else:
        assert not invisible


@given(st.text(max_size=200))
def test_any_text_is_understood_or_refused_kindly(text: str) -> None:
    try:
        parsed = parse(text)
    except UsageError as exc:
        assert str(exc)
        return
    assert isinstance(parsed, ShowHelp | ListLive | RoomSearch | StopTarget)
    if isinstance(parsed, RoomSearch):
        # what is searched is what MetaStudio may be sent, and never looks like an ID
        assert check_room_name(parsed.query) == parsed.query and len(parsed.query) <= QUERY_MAX
        assert not any(is_id(word) for word in parsed.query.split())
    if isinstance(parsed, StopTarget):
        # IDs are safe to put in a URL
        check_resource_id("room", parsed.room_id)
        if parsed.job_id is not None:
            check_resource_id("job", parsed.job_id)


@given(
    st.uuids(),
    st.uuids(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([" ", "  ", "\t", "\n", " \u3000 "]),
    st.sampled_from(["", " ", "\n"]),
)
def test_a_uuid_pair_always_parses_as_a_target(
    room: uuid.UUID, job: uuid.UUID, upper: bool, hexed: bool, gap: str, pad: str
) -> None:
    room_text, job_text = (room.hex, job.hex) if hexed else (str(room), str(job))
    if upper:
        room_text, job_text = room_text.upper(), job_text.upper()
    text = f"{pad}{room_text}{gap}{job_text}{pad}"
    assert parse(text) == StopTarget(room_text, job_text)
    assert parse(f"{pad}{room_text}{pad}") == StopTarget(room_text, None)


@given(st.lists(st.text(alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1)))
def test_words_are_searched_as_one_query_with_single_spaces(words: list[str]) -> None:
    text = "  ".join(words)
    try:
        parsed = parse(text)
    except UsageError:
        return  # too long, or contains an ID
    if isinstance(parsed, RoomSearch):
        assert parsed.query == " ".join(text.split())
