"""The sandbox's lines fit the terminal: broken at spaces only, code (commands, IDs) never."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.text import Text

from bot.sandbox.mrkdwn import CODE_STYLE
from bot.sandbox.wrap import fit
from tests.test_sandbox import clean_env, sandbox, without_test_extras

__all__ = ["without_test_extras"]  # the fixture, shared with test_sandbox.py

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
WORD = st.text(alphabet="abcxyz-·…é✅0123456789", min_size=1, max_size=12)


@given(
    st.lists(st.tuples(WORD, st.booleans()), min_size=1, max_size=30),
    st.integers(min_value=10, max_value=160),
)
def test_lines_break_at_spaces_outside_code_and_fit_unless_code_is_wider(
    parts: list[tuple[str, bool]], width: int
) -> None:
    text = Text()
    codes = []
    for index, (word, code) in enumerate(parts):
        if index:
            text.append(" ")
        piece = f"{word} {word}" if code else word  # code holds a space it must keep
        text.append(piece, style=CODE_STYLE if code else None)
        if code:
            codes.append(piece)
    lines = fit(text, width, "  ", "    ")
    assert " ".join(line.plain.strip() for line in lines).split() == text.plain.split()
    for line in lines:
        body = line.plain.strip()
        assert cell_len(line.plain) <= width or " " not in body or body in codes
    for piece in codes:
        assert any(piece in line.plain for line in lines)  # whole, on one line


def test_no_width_leaves_the_line_whole() -> None:
    text = Text("a " * 200)
    assert [line.plain for line in fit(text, None, "> ")] == ["> " + text.plain]


@pytest.mark.parametrize("width", [80, 150])
async def test_the_sandbox_fits_its_lines_and_keeps_commands_and_ids_whole(
    tmp_path: Path, without_test_extras: str, width: int
) -> None:
    script = "/stoplive spring sale\npress 1\n/stoplive night market\n"
    env = clean_env(without_test_extras, COLUMNS=str(width))
    code, out, err = await sandbox(script, tmp_path, env)
    assert code == 0, err
    commands = 0
    for line in out.splitlines():
        if cell_len(line) > width:  # only a ready command wider than the terminal
            assert re.fullmatch(rf" +/stoplive {UUID} {UUID}", line), line
            commands += 1
        # an ID is never cut: each hex run that starts like one is a whole one
        for fragment in re.findall(r"(?<![0-9a-f-])[0-9a-f]{8}-[0-9a-f-]*", line):
            assert re.fullmatch(UUID, fragment), (fragment, line)
    assert commands == (5 if width == 80 else 0)
    ready = re.findall(rf"^ +/stoplive {UUID} {UUID}\b", out, re.MULTILINE)
    assert len(ready) == 5  # every live job's command, whole on its line
    assert "Stop Spring sale?" in out and "Choose the job to stop" in out
