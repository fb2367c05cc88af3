"""Job states are classified in one place: live, ended, or unknown (never taken for ended)."""

from __future__ import annotations

import pytest

from bot.metastudio.models import ENDED_STATES, LIVE_STATES, Liveness, SmartLiveJob, liveness


@pytest.mark.parametrize("state", ["WAITING", "PROCESSING"])
def test_live_states(state: str) -> None:
    assert liveness(state) is Liveness.LIVE


@pytest.mark.parametrize("state", ["SUCCEED", "SUCCESS", "FAILED", "CANCELED", "BLOCKED"])
def test_ended_states(state: str) -> None:
    job = SmartLiveJob(job_id="j", state=state)
    assert liveness(state) is Liveness.ENDED and job.has_ended and not job.is_live


@pytest.mark.parametrize("state", ["STOPPING", "", "processing", "SUCCEEDED", " FAILED", "NULL"])
def test_anything_else_is_unknown_neither_live_nor_ended(state: str) -> None:
    job = SmartLiveJob(job_id="j", state=state)
    assert job.liveness is Liveness.UNKNOWN and not job.is_live and not job.has_ended


def test_the_two_lists_cover_every_known_state_once() -> None:
    assert set(LIVE_STATES).isdisjoint(ENDED_STATES) and len(LIVE_STATES + ENDED_STATES) == 7


def test_the_end_reason_is_the_block_reason_and_the_error() -> None:
    job = SmartLiveJob.model_validate(
        {
            "job_id": "j",
            "state": "BLOCKED",
            "block_reason": " special exit ",
            "error_info": {"error_code": "MSS.1", "error_msg": "blocked"},
        }
    )
    assert job.end_reason == "special exit · MSS.1: blocked"
    assert SmartLiveJob(job_id="j", state="FAILED", error_info={}).end_reason is None
