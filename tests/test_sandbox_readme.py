"""What the README, ``docs/`` and ``/stoplive help`` tell a newcomer to type works in the sandbox as
written, and the conversation shows only what Slack would show. Each test drives
``python -m bot sandbox`` as a subprocess, as a newcomer would."""

from __future__ import annotations

import re
from pathlib import Path

from bot.sandbox import demo
from bot.stopflow.words import refusals
from tests.test_sandbox import ROOT, clean_env, posted, sandbox, turn, without_test_extras

__all__ = ["without_test_extras"]  # the fixture, shared with test_sandbox.py

README = (ROOT / "README.md").read_text(encoding="utf-8")
# The README and the documents it leads to (what people see, what can go wrong, deploying).
DOCUMENTS = "\n".join(
    path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
)
DEMO = ROOT / "examples" / "demo.txt"
PRODUCT = demo.ROOMS[2]


def readme_commands() -> list[str]:
    """Every ``/stoplive …`` the README or ``docs/`` shows as something to type: in a code span
    or at the start of a line in a code block, without placeholders (``<room_id>``, ``…``)."""
    found = re.findall(r"`(/stoplive(?: [^`<…]*)?)`", DOCUMENTS)
    found += re.findall(r"^(?:\w+> )?(/stoplive(?: [^\n<…]*)?)$", DOCUMENTS, flags=re.MULTILINE)
    return sorted({command.strip() for command in found if "`" not in command})


def help_examples() -> list[str]:
    text = refusals.help_text().text
    return re.findall(r"`(/stoplive [^`]+)`", text.split("*Example:*", 1)[1])


async def test_every_stoplive_example_of_the_readme_and_of_help_works_as_written(
    tmp_path: Path, without_test_extras: str
) -> None:
    commands = sorted(set(readme_commands()) | set(help_examples()))
    assert "/stoplive spring sale" in commands and len(commands) >= 6
    code, out, err = await sandbox(
        "".join(f"{command}\n" for command in commands), tmp_path, clean_env(without_test_extras)
    )
    assert code == 0, err
    for command in commands:
        answer = turn(out, f"alice> {command}")
        assert "No room matches" not in answer, command
        assert "Not understood" not in answer and "Nothing live" not in answer, command
    sale = turn(out, "alice> /stoplive spring sale")
    assert "Stop Spring sale?" in sale and "[1] Stop stream" in sale


async def test_the_shipped_demo_script_runs_to_the_end(
    tmp_path: Path, without_test_extras: str
) -> None:
    lines = [line for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines[-1] == "quit"
    code, out, err = await sandbox(DEMO.read_bytes(), tmp_path, clean_env(without_test_extras))
    assert code == 0 and err == ""
    assert "\nalice> quit" in out
    assert "Traceback" not in out and "I don't know" not in out
    assert "No message has buttons" not in out and "has buttons 1 to" not in out
    # the notes sent before the job is read again name the stream confirmed, not its IDs
    assert "⏳ Stopping Spring sale… the result will be posted in the channel." in out
    assert "⏳ Stopping: Night market · by @alice" in out
    assert "❌ MetaStudio refused to stop Product launch: MSS.00000003" in out
    assert "refused to stop room" not in out and "Stopping job" not in out
    recent = turn(out, "alice> /stoplive recent")
    assert recent.count("✅ Stopped") == 2 and "❌ MetaStudio refused to stop" in recent


async def test_press_after_an_outcome_presses_the_channel_message_and_says_so(
    tmp_path: Path, without_test_extras: str
) -> None:
    spring = demo.ROOMS[0]
    script = f"/stoplive {spring.room_id} {spring.jobs[0].job_id}\npress 1\npress 1\n"
    code, out, err = await sandbox(script, tmp_path, clean_env(without_test_extras))
    assert code == 0, err
    stopped = out.split("alice> press 1", 1)[1].split("alice> press 1", 1)[0]
    assert posted(stopped, "#audit")[-1]  # the last message printed has no buttons
    again = out.split("alice> press 1")[2]
    assert "» Pressing [1] Check again on the #incidents message." in again
    assert "checked at" in posted(again, "(only you)")[0]


async def test_a_lost_answer_shows_the_conversation_and_no_log_line_unless_asked(
    tmp_path: Path, without_test_extras: str
) -> None:
    script = f"fault lost-answer\n/stoplive {PRODUCT.room_id} {PRODUCT.jobs[0].job_id}\npress 1\n"
    env = clean_env(without_test_extras)
    code, out, err = await sandbox(script, tmp_path, env)
    assert code == 0 and err == ""
    assert "the job's state confirms it" in out
    assert "WARNING" not in out and "bot.stopflow" not in out
    code, out, err = await sandbox(script, tmp_path, env, "--logs")
    assert code == 0 and "WARNING bot.stopflow.stopping" in err and "WARNING" not in out


async def test_the_help_list_keeps_each_entry_apart_from_its_description(
    tmp_path: Path, without_test_extras: str
) -> None:
    code, out, _ = await sandbox("", tmp_path, clean_env(without_test_extras))
    assert code == 0
    typed = out.split("\nType:\n", 1)[1].strip("\n").splitlines()
    assert len(typed) >= 8
    starts = {line.index(line.split("  ", 2)[2].strip()) for line in typed if line.strip()}
    assert len(starts) == 1  # one column of descriptions
    for line in typed:
        _, gap, _ = line.strip().partition("  ")
        assert gap, line
    assert any(line.strip().startswith("/stoplive [words") for line in typed)


def normal(line: str) -> str:
    """A line with what changes from run to run (clock times, request IDs) made alike."""
    line = re.sub(r"\b\d\d:\d\d UTC\b", "HH:MM UTC", line)
    return re.sub(r"MetaStudio request [0-9a-f]{32}", "MetaStudio request R", line)


async def test_the_quickstart_transcript_is_what_the_sandbox_prints(
    tmp_path: Path, without_test_extras: str
) -> None:
    """Every line of the README's sample conversation, in order (``...`` skips some)."""
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    [sample] = re.findall(r"^```\n(alice> .*?)^```$", quickstart, re.MULTILINE | re.DOTALL)
    typed = [line.split("> ", 1)[1] for line in sample.splitlines() if re.match(r"\w+> ", line)]
    code, out, err = await sandbox(
        "".join(f"{line}\n" for line in typed), tmp_path, clean_env(without_test_extras)
    )
    assert code == 0, err
    printed = iter(normal(line) for line in out.splitlines())
    for line in sample.splitlines():
        if line and line != "...":
            assert normal(line) in printed, f"not printed (in this order): {line!r}"


async def test_the_readme_stop_everything_sample_is_what_the_sandbox_prints(
    tmp_path: Path, without_test_extras: str
) -> None:
    """The README's ``/stoplive all`` sample is literal: each run of lines between ``...``
    (which marks lines left out) is printed as it stands, one after the other, in order; only
    blank lines may go unmarked."""
    [sample] = re.findall(
        r"^```text\n(alice> /stoplive all\n.*?)^```$", README, re.MULTILINE | re.DOTALL
    )
    typed = [line.split("> ", 1)[1] for line in sample.splitlines() if line.startswith("alice> ")]
    code, out, err = await sandbox(
        "".join(f"{line}\n" for line in typed), tmp_path, clean_env(without_test_extras)
    )
    assert code == 0, err
    printed = [normal(line) for line in out.splitlines() if line.strip()]
    runs = [[normal(line) for line in run.strip("\n").splitlines()] for run in sample.split("...")]
    at = 0
    for run in runs:
        found = next((i for i in range(at, len(printed)) if printed[i : i + len(run)] == run), None)
        assert found is not None, f"not printed as it stands (after line {at}): {run!r}"
        at = found + len(run)
