"""``python -m bot sandbox`` as a newcomer meets it: a subprocess fed through stdin, read on stdout."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.metastudio import MetaStudioClient, MetaStudioError
from bot.metastudio.auth import AkSkAuth
from bot.sandbox import demo
from bot.sandbox.standins.metastudio import MetaStudioStandIn, stoplive_signer

ROOT = Path(__file__).resolve().parent.parent
SPRING = demo.ROOMS[0]
SPRING_JOB = SPRING.jobs[0].job_id
NIGHT = demo.ROOMS[1]
NIGHT_JOB = NIGHT.jobs[0].job_id


TEST_ONLY = ("huaweicloudsdkcore", "huaweicloudsdkmetastudio", "hypothesis", "pytest")


@pytest.fixture(scope="session")
def without_test_extras(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PYTHONPATH entry in which the test-only packages cannot be imported: the sandbox must
    run after a bare ``pip install .``."""
    blocked = tmp_path_factory.mktemp("no-test-extras")
    for name in TEST_ONLY:
        (blocked / name).mkdir()
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('{name} is a test extra')\n"
        )
    return str(blocked)


def clean_env(without: str, **extra: str) -> dict[str, str]:
    """What a newcomer's shell holds: a PATH, a home, and nothing of stoplive's."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": f"{without}{os.pathsep}{ROOT}",
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


async def sandbox(
    stdin: str | bytes, cwd: Path, env: dict[str, str], *args: str
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if isinstance(stdin, str) else stdin), 60
    )
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def posted(stdout: str, where: str) -> list[str]:
    """The text of every message printed as sent to ``where`` (e.g. ``#incidents``)."""
    found = []
    for chunk in stdout.split("\n\n"):
        head, _, body = chunk.partition("\n")
        if head.startswith(f"stoplive → {where}"):
            found.append(body)
    return found


def turn(stdout: str, typed: str) -> str:
    """What was printed after the line ``typed`` (with its prompt, e.g. ``bob> help``) was
    echoed, up to the next echoed line."""
    _, found, rest = stdout.partition(f"\n{typed}\n")
    assert found, f"{typed!r} was not echoed"
    return re.split(r"\n(?:alice|bob|mallory)> ", rest, maxsplit=1)[0]


async def test_a_newcomer_stops_a_stream_is_refused_as_mallory_and_sees_a_fault(
    tmp_path: Path, without_test_extras: str
) -> None:
    script = "\n".join(
        [
            f"/stoplive {SPRING.room_id} {SPRING_JOB}",
            "press 1",
            "as mallory",
            f"/stoplive {NIGHT.room_id} {NIGHT_JOB}",
            "as alice",
            "fault 500",
            f"/stoplive {NIGHT.room_id} {NIGHT_JOB}",
            "press 1",
            "help",
            "quit",
            "/stoplive never reached",
        ]
    )
    code, out, err = await sandbox(script + "\n", tmp_path, clean_env(without_test_extras))
    assert code == 0, err

    banner = out.split("\nalice> ")[0]
    for room in demo.ROOMS:
        assert f"{room.name} · {room.room_id}" in banner
        for job in room.jobs:
            ready = f"/stoplive {room.room_id} {job.job_id}"
            assert (ready in banner) == (job.state in ("WAITING", "PROCESSING"))
    assert "press N" in banner and "as mallory" in banner and "fault 500" in banner
    assert "\x1b" not in out  # piped: plain text, no terminal codes

    confirmation = turn(out, f"alice> /stoplive {SPRING.room_id} {SPRING_JOB}")
    assert confirmation.startswith("\nstoplive → (only you)\n")
    assert SPRING_JOB in confirmation and "[1] Stop stream  [2] Cancel" in confirmation

    stop = turn(out, "alice> press 1")
    assert posted(stop, "#incidents (updated)")  # the channel's message, revised in place
    said = posted(stop, "#incidents")[-1]
    assert "Stopped" in said and "@alice" in said and SPRING_JOB in said
    assert any(SPRING_JOB in text and "Stopped" in text for text in posted(stop, "#audit"))

    refused = turn(out, f"mallory> /stoplive {NIGHT.room_id} {NIGHT_JOB}")
    assert refused.startswith("\nstoplive → (only you)\n")
    assert "not on the stoplive allowlist" in refused and "Nothing was stopped" in refused

    faulted = posted(out.split("alice> fault 500")[1], "#incidents")
    # "Stopping…", revised to the outcome, and (a bad verdict) its reply in the thread,
    # broadcast to the channel: a 500 does not say whether the stop was applied, so the job
    # was read between attempts and is reported as it is, never as "refused"
    assert len(faulted) == 3 and NIGHT_JOB in faulted[0]
    assert "does not say whether it was applied" in faulted[0]
    assert faulted[1].lstrip().startswith("🔴 Still live") and "HTTP 500" in faulted[1]
    assert faulted[2].lstrip().startswith("🔴 Still live")
    assert not any("refused" in text or "Nothing was stopped" in text for text in faulted)
    rooms_after = turn(out, "alice> help")
    assert f"/stoplive {NIGHT.room_id} {NIGHT_JOB}" in rooms_after  # truly still live
    assert f"/stoplive {SPRING.room_id} {SPRING_JOB}" not in rooms_after  # truly stopped

    assert "never reached" not in out.split("> quit")[1]
    assert os.listdir(tmp_path) == []  # no state file, no history file left behind


@pytest.fixture
async def trap() -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback listener that counts who connects: where a leak would go."""
    connections: list[int] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", connections
    server.close()
    await server.wait_closed()


async def test_the_environment_and_dotenv_never_reach_the_sandbox(
    tmp_path: Path, trap: tuple[str, list[int]], without_test_extras: str
) -> None:
    url, connections = trap
    hostile = {
        "SLACK_BOT_TOKEN": "xoxb-real-looking-token",
        "SLACK_SIGNING_SECRET": "0" * 32,
        "SLACK_API_URL": url + "/api/",
        "SLACK_APP_TOKEN": "xapp-1-real",
        "STOPLIVE_MODE": "socket",
        "METASTUDIO_ENDPOINT": url,
        "METASTUDIO_PROJECT_ID": "f" * 32,
        "HUAWEICLOUD_SDK_AK": "REALACCESSKEY",
        "HUAWEICLOUD_SDK_SK": "real-secret",
        "HUAWEICLOUD_IAM_USERNAME": "someone",
        "STOPLIVE_ALLOWLIST": '{"U0MALLORY": "ops-mallory"}',
        "STOPLIVE_STATE_FILE": str(tmp_path / "leaked.db"),
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "ALL_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in hostile.items()))
    script = f"as mallory\n/stoplive {SPRING.room_id} {SPRING_JOB}\nas alice\n"
    script += f"/stoplive {SPRING.room_id} {SPRING_JOB}\npress 1\n"  # end of input: no quit
    code, out, err = await sandbox(script, tmp_path, clean_env(without_test_extras, **hostile))
    assert code == 0, err
    assert "not on the stoplive allowlist" in out  # the demo allowlist, not the environment's
    assert any("Stopped" in text for text in posted(out, "#incidents"))
    assert connections == []
    assert os.listdir(tmp_path) == [".env"]


async def test_a_script_file_is_replayed_then_input_is_read(
    tmp_path: Path, without_test_extras: str
) -> None:
    script = tmp_path / "demo.txt"
    script.write_text(f"# a note\nas bob\n/stoplive {NIGHT.room_id}\npress 1\n")
    code, out, _ = await sandbox(
        "press 2\n", tmp_path, clean_env(without_test_extras), "--script", str(script)
    )
    assert code == 0
    assert "alice> # a note" in out
    assert "Nothing was stopped" in turn(out, f"bob> /stoplive {NIGHT.room_id}")  # not his room
    assert "No message has buttons to press." in out
    assert "bob> press 2" in out  # stdin, after the script


async def test_hostile_input_is_answered_never_a_traceback(
    tmp_path: Path, without_test_extras: str
) -> None:
    lines = [
        b"/stoplive " + b"a" * 300_000,  # more than the bot takes in one request
        b"/stoplive \xff\xfe not utf-8",
        b"\x1b[2J\x1b]0;title\x07",
        b"press 9",
        b"as eve",
        b"fault everything",
        b"/stopall",
    ]
    code, out, err = await sandbox(
        b"\n".join(lines) + b"\n", tmp_path, clean_env(without_test_extras)
    )
    assert code == 0 and "Traceback" not in err
    assert "\x1b" not in out and "\x07" not in out
    assert "HTTP 413" in out  # what Slack would show: the app refused it
    assert "No message has buttons to press." in out
    assert "as needs one of" in out and "fault needs one of" in out and "Only /stoplive" in out


async def test_a_script_that_cannot_be_read_is_a_clear_error(
    tmp_path: Path, without_test_extras: str
) -> None:
    code, out, err = await sandbox(
        "", tmp_path, clean_env(without_test_extras), "--script", "missing.txt"
    )
    assert code == 2 and "cannot read missing.txt" in err and out == ""


async def test_the_demo_settings_ignore_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUAWEICLOUD_IAM_USERNAME", "someone")  # a second auth would be refused
    monkeypatch.setenv("STOPLIVE_ALLOWED_CHANNELS", "C0ELSEWHERE")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\n")
    settings = demo.settings("http://127.0.0.1:1", "http://127.0.0.1:2/api/", tmp_path)
    assert settings.huaweicloud_iam_username is None
    assert settings.allowed_channels == {demo.INCIDENTS}
    assert settings.slack_bot_token.get_secret_value() == demo.BOT_TOKEN


async def test_the_sandbox_reference_signer_accepts_ours_and_refuses_a_wrong_key() -> None:
    standin = MetaStudioStandIn(signer=stoplive_signer, project_id=demo.PROJECT_ID)
    demo.populate(standin)
    await standin.start()
    try:
        for sk, works in ((demo.SK, True), ("not-the-key", False)):
            async with MetaStudioClient(
                base_url=standin.url,
                project_id=demo.PROJECT_ID,
                auth=AkSkAuth(SecretStr(demo.AK), SecretStr(sk), demo.PROJECT_ID),
            ) as client:
                if works:
                    job = await client.get_job(SPRING.room_id, SPRING_JOB, "ops-alice")
                    assert job.room_name == "Spring sale"
                else:
                    with pytest.raises(MetaStudioError) as refused:
                        await client.get_job(SPRING.room_id, SPRING_JOB, "ops-alice")
                    assert refused.value.status == 401
    finally:
        await standin.stop()


def test_the_demo_project_has_something_to_try_for_everyone() -> None:
    live = {
        room.name: [j for j in room.jobs if j.state in ("WAITING", "PROCESSING")]
        for room in demo.ROOMS
    }
    ended = [j for room in demo.ROOMS for j in room.jobs if j.ended_minutes_ago is not None]
    assert len(demo.ROOMS) >= 3 and ended
    assert sorted(len(jobs) for jobs in live.values())[0] == 0  # an idle room
    assert any(len(jobs) == 1 for jobs in live.values())
    assert any(len(jobs) > 1 for jobs in live.values())
    people = demo.PEOPLE
    assert people["alice"].rooms is None and people["mallory"].app_user_id is None
    assert people["bob"].rooms is not None and len(people["bob"].rooms) == 1


async def test_a_refused_tenant_job_list_lists_the_same_room_by_room(
    tmp_path: Path, without_test_extras: str
) -> None:
    script = "\n".join(["/stoplive", "fault no-job-list", "/stoplive", "quit"])
    code, out, err = await sandbox(script + "\n", tmp_path, clean_env(without_test_extras))
    assert code == 0, err
    before, after = out.split("alice> /stoplive\n")[1:3]
    head = next(line for line in before.splitlines() if "live job" in line)
    assert "Choose the job to stop" in head and head in after
    assert "refuses its tenant-wide job list" in before  # the fault, armed between the two
