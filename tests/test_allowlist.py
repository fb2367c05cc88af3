"""The allowlist: strict parsing (never a grant wider than written) and live reloading."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.stopflow.allowlist import (
    MAX_BYTES,
    MAX_SHOWN_PROBLEMS,
    Allowlist,
    AllowlistError,
    Grant,
    file_source,
)
from bot.stopflow.allowlist_file import SETTLE_SECONDS, LiveAllowlist
from tests.builders import JOB, ROOM
from tests.conftest import BotFactory
from tests.harness import ALICE as HARNESS_ALICE
from tests.harness import BOB as HARNESS_BOB
from tests.harness import buttons

ALICE, BOB = "U024BE7LH", "U0G9QF9C6"
ROOM_1, ROOM_2 = "24bad716-87b1-45e5-8912-6102f7693265", "room-2"
SRC = "STOPLIVE_ALLOWLIST"


def refusal(text: str) -> str:
    with pytest.raises(AllowlistError) as raised:
        Allowlist.from_text(text, source=SRC)
    return str(raised.value)


def yaml_refusal(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(AllowlistError) as raised:
        Allowlist.from_bytes(raw, source="FILE")
    return str(raised.value)


def test_both_shapes_and_what_they_grant() -> None:
    allowlist = Allowlist.from_text(
        json.dumps({ALICE: "ops-alice", BOB: {"app_user_id": "ops-bob", "rooms": [ROOM_1]}}),
        source=SRC,
    )
    assert len(allowlist) == 2
    assert allowlist.grant_for(ALICE) == Grant("ops-alice", None)
    assert allowlist.grant_for(BOB) == Grant("ops-bob", frozenset({ROOM_1}))
    assert allowlist.grant_for("U0NOBODY1") is None
    bob = allowlist.grant_for(BOB)
    assert bob is not None and bob.covers(ROOM_1) and not bob.covers(ROOM_2)
    alice = allowlist.grant_for(ALICE)
    assert alice is not None and alice.covers(ROOM_2)
    entry_without_rooms = Allowlist.from_text(json.dumps({ALICE: {"app_user_id": "a"}}), source=SRC)
    assert entry_without_rooms.grant_for(ALICE) == Grant("a", None)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        # the list
        (
            {ALICE: {"app_user_id": "a", "room": [ROOM_1]}},
            "entry 'U024BE7LH': unknown key 'room' (allowed: app_user_id, rooms, stop_all)",
        ),
        ({ALICE: {"app_user_id": "a", "rooms": [123]}}, "rooms must hold room ID strings, not 123"),
        ({ALICE: {"app_user_id": "a", "rooms": [True]}}, "not True"),
        ({ALICE: {"app_user_id": "a", "rooms": [None]}}, "not None"),
        (
            '{"U024BE7LH": "a", "U024BE7LH": "b"}',
            "STOPLIVE_ALLOWLIST: key 'U024BE7LH' appears twice",
        ),
        ('{"U024BE7LH": {"app_user_id": "a", "app_user_id": "b"}}', "'app_user_id' appears twice"),
        # shapes
        ([], "must be an object like"),
        ("null", "must be an object like"),
        ({"alice": "a"}, "entry 'alice': key must be a Slack user ID"),
        ({"u024be7lh": "a"}, "key must be a Slack user ID"),
        ({ALICE: 7}, "value must be an app user ID string or"),
        ({ALICE: ["a"]}, "value must be an app user ID string or"),
        ({ALICE: {"rooms": [ROOM_1]}}, "app_user_id is required"),
        ({ALICE: {"app_user_id": 7}}, "app_user_id must be a string"),
        ({ALICE: "has space"}, "entry 'U024BE7LH': a MetaStudio app user ID must be 1-64"),
        ({ALICE: {"app_user_id": ""}}, "entry 'U024BE7LH': a MetaStudio app user ID must be"),
        ({ALICE: {"app_user_id": "a", "rooms": []}}, "rooms must be a non-empty list"),
        ({ALICE: {"app_user_id": "a", "rooms": ROOM_1}}, "rooms must be a non-empty list"),
        ({ALICE: {"app_user_id": "a", "rooms": None}}, "rooms must be a non-empty list"),
        ({ALICE: {"app_user_id": "a", "rooms": ["a/b"]}}, "room ID must be 1-64 letters"),
        ({ALICE: {"app_user_id": "a", "rooms": ["r", "r"]}}, "room 'r' is listed twice"),
        # text
        ("{not json", "STOPLIVE_ALLOWLIST: not valid JSON (Expecting property name"),
        ("[" * 100_000, "STOPLIVE_ALLOWLIST: nested too deeply"),
        ('{"U024BE7LH": ' + "1" * 5000 + "}", "STOPLIVE_ALLOWLIST: not valid JSON (Exceeds"),
        (" " * MAX_BYTES + "{}", "STOPLIVE_ALLOWLIST: larger than 1024 KiB"),
        (" " * (MAX_BYTES - 2) + "[]", "STOPLIVE_ALLOWLIST: must be an object like"),
    ],
)
def test_refused_with_the_entry_named(text: object, needle: str) -> None:
    message = refusal(text if isinstance(text, str) else json.dumps(text))
    assert needle in message
    assert "\n" not in message


def test_every_entry_problem_is_listed_but_not_a_thousand() -> None:
    assert str(AllowlistError(["one", "two"])) == "one; two"
    error = AllowlistError([f"p{i}" for i in range(MAX_SHOWN_PROBLEMS + 5)])
    assert error.problems[-1] == "... and 5 more problems"
    assert len(error.problems) == MAX_SHOWN_PROBLEMS + 1
    with pytest.raises(AllowlistError) as raised:
        Allowlist.from_data({"bad": "a", ALICE: {"app_user_id": 1, "x": 2}}, source=SRC)
    assert raised.value.problems == [
        "STOPLIVE_ALLOWLIST, entry 'bad': key must be a Slack user ID like U024BE7LH",
        "STOPLIVE_ALLOWLIST, entry 'U024BE7LH': unknown key 'x' (allowed: app_user_id, rooms, stop_all)",
    ]
    long_key = "x" * 100
    assert "entry '" + "x" * 36 + "...:" in refusal(json.dumps({long_key: "a"}))
    with pytest.raises(AllowlistError, match=r"entry <int>: key must be"):
        Allowlist.from_data({10**5000: "a"}, source=SRC)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a: &x [1]\nb: *x\n", "anchors and aliases are not allowed, line 1 column 4"),
        ("U024BE7LH: &x ops\n", "anchors and aliases are not allowed"),
        ("U024BE7LH: ops\n<<: {U0G9QF9C6: b}\n", "merge keys (<<) are not allowed, line 2"),
        ("U024BE7LH: a\nU024BE7LH: b\n", "key 'U024BE7LH' appears twice, line 2 column 1"),
        ("U024BE7LH: {app_user_id: a, rooms: [r1], room: [r2]}\n", "unknown key 'room'"),
        ("U024BE7LH: {app_user_id: a, rooms: [123, true, null]}\n", "not 123"),
        ("U024BE7LH: {app_user_id: a, rooms: [2024-01-01]}\n", "not datetime.date"),
        ("U024BE7LH: yes\n", "value must be an app user ID string"),
        ("? [a]\n: b\n", "found unhashable key"),
        ("U024BE7LH: !!python/object:os.system a\n", "could not determine a constructor"),
        (
            "a: b\n---\nc: d\n",
            "FILE: not valid JSON or YAML (expected a single document in the stream but found "
            "another document, line 2 column 1)",
        ),
        ("a: [\n", "not valid JSON or YAML"),
        ("a: \x07\n", "not valid JSON or YAML (unacceptable character #x0007: special"),
        ("[" * 100_000, "nested too deeply"),
        ("U024BE7LH: " + "1" * 5000 + "\n", "not valid YAML (Exceeds"),
        (b"U024BE7LH: ops-\xe9lice\n", "not UTF-8 text (byte 0xe9 at offset 15)"),
        (b"\xff" * (MAX_BYTES + 1), "larger than 1024 KiB"),
    ],
)
def test_yaml_refusals(text: str | bytes, needle: str) -> None:
    message = yaml_refusal(text)
    assert needle in message and message.startswith("FILE")
    assert "\n" not in message


def test_the_billion_laughs_file_is_refused_at_once() -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    began = time.monotonic()
    assert "anchors and aliases are not allowed" in yaml_refusal(bomb)
    assert time.monotonic() - began < 1


def test_yaml_with_a_bom_and_json_in_a_file() -> None:
    allowlist = Allowlist.from_bytes(
        b'\xef\xbb\xbf{"U024BE7LH": {"app_user_id": "a", "rooms": ["r1"]}}', source="F"
    )
    assert allowlist.grant_for(ALICE) == Grant("a", frozenset({"r1"}))


def test_files_that_are_not_regular_or_not_there(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AllowlistError, match="not a regular file"):
        Allowlist.from_file(str(fifo))  # would block forever if opened without O_NONBLOCK
    with pytest.raises(AllowlistError, match="cannot read it"):
        Allowlist.from_file(str(tmp_path))
    with pytest.raises(AllowlistError, match=r"cannot read it \(No such file"):
        Allowlist.from_file(str(tmp_path / "nope"))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(AllowlistError) as raised:
        Allowlist.from_file(str(big))
    assert str(raised.value) == f"STOPLIVE_ALLOWLIST_FILE ('{big}'): larger than 1024 KiB"
    bad = tmp_path / "bad.yaml"
    bad.write_text("U024BE7LH: [a]\n")
    with pytest.raises(AllowlistError) as raised:
        Allowlist.from_file(str(bad))
    assert str(raised.value).startswith(f"STOPLIVE_ALLOWLIST_FILE ('{bad}'), entry 'U024BE7LH'")
    with pytest.raises(AllowlistError) as raised:
        Allowlist.from_file(str(fifo))
    assert str(raised.value) == f"STOPLIVE_ALLOWLIST_FILE ('{fifo}'): not a regular file"


def test_file_paths_are_shown_in_full_up_to_300_characters() -> None:
    assert file_source("a" * 298) == f"STOPLIVE_ALLOWLIST_FILE ('{'a' * 298}')"
    assert file_source("a" * 299) == f"STOPLIVE_ALLOWLIST_FILE ('{'a' * 296}...)"
    entry = "x" * 38  # shown with its quotes: exactly 40 characters
    assert f"entry '{entry}':" in refusal(json.dumps({entry: "a"}))


# --- properties -----------------------------------------------------------------------------

SLACK_IDS = st.from_regex(r"[UW][A-Z0-9]{2,8}", fullmatch=True)
ROOM_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True)
APP_USERS = st.from_regex(r"[\x21-\x7e]{1,12}", fullmatch=True)
ENTRIES = st.one_of(
    APP_USERS,
    st.fixed_dictionaries({"app_user_id": APP_USERS}),
    st.fixed_dictionaries(
        {"app_user_id": APP_USERS, "rooms": st.lists(ROOM_IDS, min_size=1, max_size=4, unique=True)}
    ),
)
JSON_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=12) | SLACK_IDS | st.sampled_from(["rooms", "room", "app_user_id"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)
PYTHON_DATA = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=4)
    | st.sampled_from(["rooms", "app_user_id", ALICE, ROOM_1]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children)
        | st.frozensets(st.integers(), max_size=3)
        | st.dictionaries(
            st.one_of(
                SLACK_IDS, st.integers(), st.text(max_size=8), st.sampled_from(["rooms", "room"])
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _one_line_refusal(exc: AllowlistError, source: str) -> None:
    assert str(exc).startswith(source) and "\n" not in str(exc)


@given(st.text(max_size=300))
def test_any_json_text_gives_an_allowlist_or_a_one_line_refusal(text: str) -> None:
    try:
        Allowlist.from_text(text, source=SRC)
    except AllowlistError as exc:
        _one_line_refusal(exc, SRC)


@given(st.one_of(JSON_DATA, st.dictionaries(SLACK_IDS, ENTRIES, min_size=1, max_size=4)))
def test_any_json_document_gives_an_allowlist_or_a_one_line_refusal(data: Any) -> None:
    try:
        Allowlist.from_text(json.dumps(data), source=SRC)
    except AllowlistError as exc:
        _one_line_refusal(exc, SRC)


YAML_PIECES = st.sampled_from(
    [
        "U024BE7LH", ": ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "<<", "!!str ",
        "!!python/name:os.system", "app_user_id", "rooms", "room", "ops", "'", '"', "? ", "---\n",
        "%YAML 1.1\n", "#", "|", ">", "1", "true", "~", "\t", "\x00", "\ufeff", "é",
    ]
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(YAML_PIECES, max_size=40).map("".join)))
def test_any_yaml_text_gives_an_allowlist_or_a_one_line_refusal(text: str) -> None:
    try:
        Allowlist.from_bytes(text.encode("utf-8", "surrogatepass"), source="FILE")
    except AllowlistError as exc:
        _one_line_refusal(exc, "FILE")


@given(st.binary(max_size=200))
def test_any_bytes_give_an_allowlist_or_a_one_line_refusal(raw: bytes) -> None:
    try:
        Allowlist.from_bytes(raw, source="FILE")
    except AllowlistError as exc:
        _one_line_refusal(exc, "FILE")


@given(PYTHON_DATA)
def test_any_python_data_gives_an_allowlist_or_a_one_line_refusal(data: Any) -> None:
    try:
        Allowlist.from_data(data, source=SRC)
    except AllowlistError as exc:
        _one_line_refusal(exc, SRC)


@given(
    st.dictionaries(SLACK_IDS, ENTRIES, min_size=1, max_size=5),
    SLACK_IDS,
    ROOM_IDS,
    st.booleans(),
)
def test_no_grant_is_wider_than_written(
    written: dict[str, Any], asker: str, room: str, as_yaml: bool
) -> None:
    text = json.dumps(written)
    allowlist = (
        Allowlist.from_bytes(text.encode(), source="FILE")
        if as_yaml
        else Allowlist.from_text(text, source=SRC)
    )
    assert set(allowlist.grants) == set(written)
    grant = allowlist.grant_for(asker)
    if asker not in written:
        assert grant is None
        return
    entry = written[asker]
    assert grant is not None
    if isinstance(entry, str):
        assert grant == Grant(entry, None)
    else:
        assert grant.app_user_id == entry["app_user_id"]
        assert grant.covers(room) == ("rooms" not in entry or room in entry["rooms"])


# --- reloading ------------------------------------------------------------------------------


def write(path: Path, data: object) -> None:
    """Replace the file as an editor or a config-management tool would."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(data if isinstance(data, str) else json.dumps(data))
    os.replace(tmp, path)


CAROL = "U0CAROL01"


def messages_of(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records]


def test_reload_applies_removals_and_refuses_a_bad_entry_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "allowlist.yaml"
    write(path, {ALICE: "ops-alice", BOB: "ops-bob", CAROL: "ops-carol"})
    live = LiveAllowlist.from_file(str(path))
    assert len(live) == 3 and live.grant_for(BOB) is not None

    assert live.reload() is False  # unchanged: nothing to do
    write(path, {ALICE: "ops-alice", CAROL: "ops-carol"})
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is True
    assert live.grant_for(BOB) is None and live.grant_for(ALICE) is not None
    assert messages_of(caplog) == [
        (
            "INFO",
            f"allowlist reloaded from STOPLIVE_ALLOWLIST_FILE ('{path}'): 2 users "
            "(0 restricted to rooms), was 3",
        )
    ]
    assert BOB not in caplog.text

    # One edit removes Carol and gets Alice's entry wrong (a typo that, read leniently, would
    # unrestrict her). Carol's removal applies; Alice's entry is refused and named, so she may
    # not stop until it is fixed (the safe reading: never her old grant, never a wider one).
    caplog.clear()
    write(
        path,
        f"{ALICE}: {{app_user_id: ops-alice, room: [r1]}}\n{BOB}: ops-bob\nu0bad: ops-x\n",
    )
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is True
        assert live.reload() is False  # the same version is not reported twice
    assert live.grant_for(CAROL) is None and live.grant_for(ALICE) is None
    assert live.grant_for(BOB) == Grant("ops-bob", None)
    assert messages_of(caplog) == [
        (
            "WARNING",
            f"allowlist reloaded from STOPLIVE_ALLOWLIST_FILE ('{path}'): 1 users "
            "(0 restricted to rooms), was 2; refused, so these may not stop until fixed: "
            f"STOPLIVE_ALLOWLIST_FILE ('{path}'), entry 'U024BE7LH': unknown key 'room' "
            f"(allowed: app_user_id, rooms, stop_all); STOPLIVE_ALLOWLIST_FILE ('{path}'), entry "
            "'u0bad': key must be a Slack user ID like U024BE7LH",
        )
    ]

    caplog.clear()
    write(path, {ALICE: {"app_user_id": "ops-alice", "rooms": [ROOM_1]}, BOB: "ops-bob"})
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is True
    assert "2 users (1 restricted to rooms), was 1" in caplog.records[0].getMessage()
    grant = live.grant_for(ALICE)
    assert grant is not None and not grant.covers(ROOM_2) and live.grants.keys() == {ALICE, BOB}


@pytest.mark.parametrize("emptied", ["{}", "", "# nobody for now\n"])
def test_an_emptied_file_revokes_everyone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, emptied: str
) -> None:
    path = tmp_path / "allowlist.yaml"
    write(path, {ALICE: "ops-alice", BOB: "ops-bob"})
    live = LiveAllowlist.from_file(str(path))
    write(path, emptied)
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is True
    assert len(live) == 0 and live.grant_for(ALICE) is None and live.grant_for(BOB) is None
    assert messages_of(caplog) == [
        (
            "WARNING",
            f"allowlist reloaded from STOPLIVE_ALLOWLIST_FILE ('{path}'): 0 users "
            "(0 restricted to rooms), was 2: the allowlist is empty: nobody may stop streams",
        )
    ]
    # ... and a bot started on it starts, refusing everyone, and says so
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert len(LiveAllowlist.from_file(str(path))) == 0
    assert messages_of(caplog) == [("WARNING", "the allowlist is empty: nobody may stop streams")]


@pytest.mark.parametrize("breakage", ["deleted", "unreadable", "not YAML", "a list"])
def test_an_unusable_file_means_nobody_until_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, breakage: str
) -> None:
    path = tmp_path / "allowlist.yaml"
    good = {ALICE: "ops-alice", BOB: "ops-bob"}
    write(path, good)
    live = LiveAllowlist.from_file(str(path))
    if breakage == "deleted":
        path.unlink()
    elif breakage == "unreadable":  # chmod 0 would not stop root: a directory in its place
        path.unlink()
        path.mkdir()
    elif breakage == "not YAML":
        write(path, f"{ALICE}: [ops-alice\n")
    else:
        write(path, json.dumps([ALICE]))
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is True
    if breakage == "deleted":  # nothing to wait for: no pause
        assert time.monotonic() - started < SETTLE_SECONDS
    assert live.grant_for(ALICE) is None and live.grant_for(BOB) is None and len(live) == 0
    [(level, line)] = messages_of(caplog)
    assert level == "ERROR"
    assert line.startswith(
        "allowlist unusable, so nobody may stop streams until it is fixed: "
        f"STOPLIVE_ALLOWLIST_FILE ('{path}'): "
    )
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is False  # nobody already: one ERROR line, not one a poll
    assert len(caplog.records) == 1

    caplog.clear()
    if path.is_dir():
        path.rmdir()
    write(path, good)  # the very same content as before: it applies again
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is True
    assert live.grant_for(ALICE) == Grant("ops-alice", None) and len(live) == 2
    assert messages_of(caplog)[0][0] == "INFO"


def test_a_file_caught_empty_mid_write_is_read_again(tmp_path: Path) -> None:
    """Truncated and not yet written: empty for a moment, which is not "revoke everyone"."""
    path = tmp_path / "allowlist.json"
    write(path, {ALICE: "ops-alice", BOB: "ops-bob"})
    live = LiveAllowlist.from_file(str(path))
    path.write_bytes(b"")
    timer = threading.Timer(0.05, lambda: path.write_bytes(json.dumps({ALICE: "a"}).encode()))
    timer.start()
    assert live.reload() is True
    timer.join()
    assert live.grant_for(ALICE) == Grant("a", None) and live.grant_for(BOB) is None


def test_a_settled_file_is_read_once_and_a_broken_one_three_times(tmp_path: Path) -> None:
    """No pause for a file that reads the same before and after; a file that never parses
    is read READ_ATTEMPTS (3) times, ``settle`` seconds apart, then refused."""
    path = tmp_path / "allowlist.json"
    write(path, {ALICE: "ops-alice", BOB: "ops-bob"})
    live = LiveAllowlist.from_file(str(path), settle=0.5)
    write(path, {BOB: "ops-bob"})  # a removal: it widens nothing, so it applies at once
    started = time.monotonic()
    assert live.reload() is True
    assert time.monotonic() - started < 0.4
    write(path, "{not json")
    started = time.monotonic()
    assert live.reload() is True and len(live) == 0
    assert 0.95 <= time.monotonic() - started < 1.4  # two pauses: three reads


def test_a_file_caught_mid_write_is_read_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file rewritten in place (no rename) may be read half-written: the reload reads it
    again after a pause instead of taking a fragment for the allowlist."""
    path = tmp_path / "allowlist.json"
    write(path, {ALICE: "ops-alice", BOB: "ops-bob"})
    live = LiveAllowlist.from_file(str(path))
    whole = json.dumps({ALICE: "ops-alice"}).encode()
    with path.open("r+b") as f:  # truncate and write the first half, as a slow writer would
        f.truncate(0)
        f.write(whole[: len(whole) // 2])
    timer = threading.Timer(0.05, lambda: path.write_bytes(whole))
    timer.start()
    with caplog.at_level(logging.INFO, logger="bot.stopflow.allowlist"):
        assert live.reload() is True
    timer.join()
    assert live.grant_for(ALICE) == Grant("ops-alice", None) and live.grant_for(BOB) is None
    assert [level for level, _ in messages_of(caplog)] == ["INFO"]


ROOM_A = "24bad716-87b1-45e5-8912-6102f7693265"


def test_a_half_written_file_that_parses_never_widens_a_grant(tmp_path: Path) -> None:
    """YAML cut off before an entry's ``rooms:`` still parses, as that user in every room:
    what a reload adds waits until the file holds still; what it takes away does not."""
    path = tmp_path / "allowlist.yaml"
    whole = (
        f"{ALICE}: ops-alice\n{BOB}:\n  app_user_id: ops-bob\n  rooms:\n    - {ROOM_A}\n"
    ).encode()
    path.write_bytes(whole)
    live = LiveAllowlist.from_file(str(path))
    restricted = Grant("ops-bob", frozenset({ROOM_A}))
    assert live.grant_for(BOB) == restricted
    cut = whole[: whole.index(b"  rooms:")].replace(b"ops-alice", b"ops-al")  # alice: renamed
    with path.open("r+b") as f:  # rewritten in place, the writer not done yet
        f.truncate(0)
        f.write(cut)
    timer = threading.Timer(0.1, lambda: path.write_bytes(whole))
    timer.start()
    live.reload()
    timer.join()
    assert live.grant_for(BOB) == restricted  # never "every room", not even for a moment
    assert live.grant_for(ALICE) is None  # another MetaStudio user is a change that waits too
    assert live.reload() is True  # the next look, the file whole and still
    assert live.grant_for(BOB) == restricted and live.grant_for(ALICE) == Grant("ops-alice")


def test_a_widening_that_holds_still_applies_in_one_reload(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.json"
    write(path, {ALICE: "ops-alice"})
    live = LiveAllowlist.from_file(str(path), settle=0.05)
    write(path, {ALICE: "ops-alice", BOB: {"app_user_id": "ops-bob", "rooms": [ROOM_A]}})
    assert live.reload() is True
    assert live.grant_for(BOB) == Grant("ops-bob", frozenset({ROOM_A}))
    write(path, {ALICE: "ops-alice", BOB: "ops-bob"})  # bob: every room now
    assert live.reload() is True and live.grant_for(BOB) == Grant("ops-bob")
    assert live.reload() is False  # nothing changed since


def test_an_allowlist_not_from_a_file_never_reloads() -> None:
    live = LiveAllowlist(Allowlist.from_text(json.dumps({ALICE: "a"}), source=SRC))
    assert live.reload() is False and len(live) == 1
    assert live.current.grant_for(ALICE) == Grant("a", None)
    asyncio.run(asyncio.wait_for(live.watch(0.01), 1))  # returns at once


async def test_watch_picks_up_a_change_and_a_reload_request(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.json"
    write(path, {ALICE: "ops-alice", BOB: "ops-bob"})
    live = LiveAllowlist.from_file(str(path))
    watcher = asyncio.create_task(live.watch(0.02))
    try:
        await asyncio.sleep(0.1)  # several polls that find nothing changed: it keeps watching
        assert not watcher.done()
        write(path, {ALICE: "ops-alice"})
        for _ in range(200):
            if live.grant_for(BOB) is None:
                break
            await asyncio.sleep(0.01)
        assert live.grant_for(BOB) is None

        # a watcher that polls once an hour: a request (SIGHUP) reloads now
        slow = LiveAllowlist.from_file(str(path))
        slow_watcher = asyncio.create_task(slow.watch(3600))
        write(path, {BOB: "ops-alice"})
        await asyncio.sleep(0.05)
        assert slow.grant_for(ALICE) is not None
        slow.reload_soon()
        for _ in range(200):
            if slow.grant_for(ALICE) is None:
                break
            await asyncio.sleep(0.01)
        assert slow.grant_for(ALICE) is None and slow.grant_for(BOB) is not None
        slow_watcher.cancel()
    finally:
        watcher.cancel()


async def test_a_revoked_user_is_refused_by_the_running_bot(
    start_bot: BotFactory, tmp_path: Path
) -> None:
    """End to end, over signed HTTP: revoking someone in the file takes effect on reload, and
    a broken new version leaves the last good one in force."""
    path = tmp_path / "allowlist.yaml"
    write(path, f"{HARNESS_ALICE}: ops-alice\n{HARNESS_BOB}: ops-bob\n")
    bot = await start_bot(stoplive_allowlist=None, stoplive_allowlist_file=str(path))
    live = bot.stoplive.settings.allowlist

    write(path, f"{HARNESS_ALICE}: ops-alice\n")
    assert live.reload() is True
    response, _ = await bot.command(f"{ROOM} {JOB}", user=HARNESS_BOB)
    assert "not on the stoplive allowlist" in response.json()["text"]

    write(path, f"{HARNESS_ALICE}: {{app_user_id: ops-alice, room: [x]}}\n")  # broken
    assert live.reload() is True  # her entry is refused: no access rather than a wider one
    response, _ = await bot.command(f"{ROOM} {JOB}", user=HARNESS_ALICE)
    assert "not on the stoplive allowlist" in response.json()["text"]

    write(path, f"{HARNESS_ALICE}: ops-alice\n")
    assert live.reload() is True
    _, hook = await bot.command(f"{ROOM} {JOB}", user=HARNESS_ALICE)
    assert "stoplive.confirm" in buttons(await bot.first_post(hook))
    assert bot.metastudio.calls("POST") == []


# --- a reload that widens waits: Allowlist.within -------------------------------------------

ROOMS_A, ROOMS_AB = frozenset({"room-a"}), frozenset({"room-a", "room-b"})


@pytest.mark.parametrize(
    ("now", "before", "kept"),
    [
        (Grant("ops", ROOMS_AB), Grant("ops", ROOMS_A), Grant("ops", ROOMS_A)),  # a room added
        (Grant("ops", ROOMS_A), Grant("ops", ROOMS_AB), Grant("ops", ROOMS_A)),  # one taken away
        (Grant("ops", None), Grant("ops", ROOMS_A), Grant("ops", ROOMS_A)),  # the limit lifted
        (Grant("ops", ROOMS_A), Grant("ops", None), Grant("ops", ROOMS_A)),  # a limit set
        (Grant("ops", None, True), Grant("ops", None), Grant("ops", None)),  # stop_all added
        (Grant("ops", None), Grant("ops", None, True), Grant("ops", None)),  # stop_all revoked
        (Grant("ops", None, True), Grant("ops", None, True), Grant("ops", None, True)),
        (Grant("ops-new", None), Grant("ops", None), None),  # another MetaStudio user
    ],
)
def test_what_a_reload_adds_waits_what_it_takes_away_applies(
    now: Grant, before: Grant, kept: Grant | None
) -> None:
    within = Allowlist(grants={"U1": now}).within(Allowlist(grants={"U1": before}))
    assert within.grants.get("U1") == kept
    assert Allowlist(grants={"U1": now}).within(Allowlist(grants={})).grants == {}  # newcomer


grants = st.builds(
    Grant,
    st.sampled_from(["ops-a", "ops-b"]),
    st.none() | st.frozensets(st.sampled_from(["r1", "r2", "r3"])),
    st.booleans(),
)
lists = st.dictionaries(st.sampled_from(["U1", "U2", "U3"]), grants)


@given(now=lists, before=lists)
def test_within_never_grants_what_either_list_does_not(
    now: dict[str, Grant], before: dict[str, Grant]
) -> None:
    kept = Allowlist(grants=now).within(Allowlist(grants=before)).grants
    for slack_id, grant in kept.items():
        for source in (now[slack_id], before[slack_id]):
            assert grant.app_user_id == source.app_user_id
            assert source.rooms is None or (grant.rooms is not None and grant.rooms <= source.rooms)
            assert source.stop_all or not grant.stop_all
    same = {u for u in now if u in before and now[u].app_user_id == before[u].app_user_id}
    assert set(kept) == same  # nobody both lists grant is dropped either
    assert Allowlist(grants=now).within(Allowlist(grants=now)).grants == now
