"""The sandbox shows the stream watch: its banner names the notify channel, and ``fault fails``
and ``fault blocked`` end a live stream on its own, which the watch tells #oncall at once (and a
stream stopped with /stoplive is not told again)."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox import demo
from tests.test_sandbox import clean_env, sandbox, turn, without_test_extras

__all__ = ["without_test_extras"]  # the fixture, shared with test_sandbox.py

PRODUCT = demo.ROOMS[2]


async def test_fault_fails_and_fault_blocked_are_told_in_the_notify_channel(
    tmp_path: Path, without_test_extras: str
) -> None:
    script = "\n".join(
        [
            "fault fails",
            "fault blocked",
            f"/stoplive {PRODUCT.room_id} {PRODUCT.jobs[0].job_id}",
            "press 1",
            "fault fails",  # the watch polls again: the stopped stream is gone, and not told
            "quit",
            "",
        ]
    )
    code, out, err = await sandbox(script, tmp_path, clean_env(without_test_extras))
    assert code == 0, err
    assert "the stream watch posts in #oncall" in out.split("alice>", 1)[0]
    failed = turn(out, "alice> fault fails")
    assert "Night market ended on its own (FAILED)" in failed
    assert "stoplive → #oncall" in failed
    assert "🔴 Ended with an error: Night market · MetaStudio: MSS.00000004: RTMP push failed" in (
        failed
    )
    blocked = turn(out, "alice> fault blocked")
    assert "🔴 Blocked by Huawei: Spring sale · MetaStudio: Stopped by Huawei" in blocked
    assert "✅ Stopped" in turn(out, "alice> press 1")
    notes = [part.split("\n\n", 1)[0] for part in out.split("stoplive → #oncall")[1:]]
    assert len(notes) == 3 and not any("Product launch" in note for note in notes)
