"""The sandbox prompt's language: every line is a command or a kind error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox.commands import (
    FaultKind,
    Help,
    InjectFault,
    InputError,
    Nothing,
    Press,
    Quit,
    SlashCommand,
    SwitchUser,
    parse,
)

USERS = ("alice", "bob", "mallory")


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("/stoplive room-1 job-1", SlashCommand("room-1 job-1")),
        ("  /stoplive   room-1  ", SlashCommand("room-1")),
        ("/stoplive", SlashCommand("")),
        ("/STOPLIVE help", SlashCommand("help")),
        ("press 2", Press(2)),
        ("PRESS  12 ", Press(12)),
        ("as bob", SwitchUser("bob")),
        ("as Mallory", SwitchUser("mallory")),
        ("fault 500", InjectFault(FaultKind.STOP_500)),
        ("fault lost-answer", InjectFault(FaultKind.LOST_ANSWER)),
        ("fault STAYS-LIVE", InjectFault(FaultKind.STAYS_LIVE)),
        ("fault no-job-list", InjectFault(FaultKind.NO_JOB_LIST)),
        ("help", Help()),
        ("quit", Quit()),
        ("exit", Quit()),
        ("", Nothing()),
        ("   ", Nothing()),
        ("# a note in a script", Nothing()),
    ],
)
def test_lines_that_are_commands(line: str, command: object) -> None:
    assert parse(line, USERS) == command


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("press", "press 1"),
        ("press two", "press 1"),
        ("press 0", "press 1"),
        ("press ٣", "press 1"),  # a digit, but not one anybody means
        ("press 99999999999999999999", "press 1"),
        ("as eve", "as alice | as bob | as mallory"),
        ("as", "as alice"),
        ("fault", "fault lost-answer"),
        ("fault 404", "fault stays-live"),
        ("/stopit now", "Only /stoplive"),
        ("/stoplivex", "Only /stoplive"),
        ("stoplive room job", "help"),
        ("quit now", "help"),
    ],
)
def test_lines_that_are_not_say_what_would_work(line: str, says: str) -> None:
    result = parse(line, USERS)
    assert isinstance(result, InputError) and says in result.message


@given(st.text())
def test_any_line_is_a_command_or_an_error(line: str) -> None:
    result = parse(line, USERS)
    assert isinstance(
        result, SlashCommand | Press | SwitchUser | InjectFault | Help | Quit | Nothing | InputError
    )
    if isinstance(result, InputError):
        assert result.message and len(result.message) < 400


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200))
def test_slash_text_is_passed_on_as_typed(text: str) -> None:
    result = parse("/stoplive " + text, USERS)
    assert result == SlashCommand(text.strip())
