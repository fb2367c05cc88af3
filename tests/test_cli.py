"""``python -m bot`` as a newcomer meets it on the command line: ``--help`` for the program and
each command, and ``check``'s report: one line per probe, a fix on every failure, nothing else
on stdout or stderr."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from bot.sandbox.standins.metastudio import MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from tests.builders import bot_settings
from tests.test_process import environment, free_port

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"(OK  |WARN|FAIL|SKIP) [^:\n]+: \S.*")


async def bot(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def bare() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), ["check", "sandbox", "SLACK_APP_TOKEN", "exit codes:", "PORT is taken"]),
        (("check",), ["One line per probe", "exit codes:", "a probe failed", "--logs"]),
        (("sandbox",), ["--script FILE", "--logs", "exit codes:", "examples/demo.txt"]),
    ],
)
async def test_help_says_what_each_command_does_its_options_and_exit_codes(
    tmp_path: Path, args: tuple[str, ...], says: list[str]
) -> None:
    code, out, err = await bot(*args, "--help", env=bare(), cwd=tmp_path)
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: python -m bot {' '.join(args)}".rstrip() + " [-h]")
    for words in says:
        assert words in out
    assert not LINE.search(out)  # --help ran no probe


async def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = await bot("chek", env=bare(), cwd=tmp_path)
    assert code == 2 and out == ""
    assert "invalid choice: 'chek'" in err and "usage: python -m bot" in err


async def test_check_with_nothing_configured_points_the_way_in(tmp_path: Path) -> None:
    code, out, err = await bot("check", env=bare(), cwd=tmp_path)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert all(LINE.fullmatch(line) for line in lines), out
    assert lines[0].startswith("FAIL configuration: nothing is set")
    for words in (".env.example", "README: Configuration", "python -m bot sandbox"):
        assert words in lines[0]
    assert lines[1].startswith("SKIP ")


async def test_check_names_each_bad_setting_on_one_line(tmp_path: Path) -> None:
    env = {**bare(), "SLACK_BOT_TOKEN": "xoxb-", "METASTUDIO_PROJECT_ID": "abc"}
    code, out, err = await bot("check", env=env, cwd=tmp_path)
    assert (code, err) == (1, "")
    first, skipped = out.splitlines()
    assert first.startswith("FAIL configuration: ") and "Fix: set them" in first
    assert "SLACK_BOT_TOKEN: must be a bot token" in first
    assert "METASTUDIO_PROJECT_ID: must be 32 hex" in first and ".env.example" in first
    assert skipped.startswith("SKIP ")


async def test_check_against_unreachable_services_is_one_line_per_probe_and_nothing_else(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = bot_settings(
        metastudio,
        slack,
        slack_api_url=nowhere + "/api/",
        metastudio_endpoint=nowhere,
        stoplive_mode="socket",
        slack_app_token="xapp-1-A0-1-abc",
    )
    code, out, err = await bot("check", env=environment(settings), cwd=tmp_path)
    assert (code, err) == (1, "")  # no slack_sdk retry log line, nor any other
    lines = out.splitlines()
    assert all(LINE.fullmatch(line) for line in lines), out
    assert [line.split(":")[0] for line in lines if not line.startswith("OK   access of ")] == [
        "OK   configuration",
        "OK   access",
        "OK   stream watch",
        "OK   state store",
        "FAIL Slack bot token",
        "SKIP Slack app token",
        "FAIL MetaStudio",
        "SKIP clock",
    ]
    for line in lines:
        assert line.startswith(("OK", "SKIP")) or ". Fix: check " in line
    metastudio_line = next(line for line in lines if line.startswith("FAIL MetaStudio"))
    assert "(ConnectError: " in metastudio_line  # the network's error, once
    assert "Unreachable" not in metastudio_line and "unreachable (" not in metastudio_line
