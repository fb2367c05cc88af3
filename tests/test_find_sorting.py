"""What a list of live jobs is made of: only jobs seen live, under their own room, by room name."""

from __future__ import annotations

import pytest

from bot.metastudio import InvalidId, MetaStudioError, RoomJobs, SmartLiveJob, SmartLiveRoom
from bot.stopflow.desk import live_in, sort_found


def job(
    job_id: str, room_id: str, state: str = "PROCESSING", name: str | None = None
) -> SmartLiveJob:
    return SmartLiveJob(job_id=job_id, room_id=room_id, room_name=name, state=state)


def test_only_jobs_seen_live_are_kept() -> None:
    jobs = [
        job("j1", "r1"),
        job("j2", "r1", "WAITING"),
        job("j3", "r1", "SUCCEED"),
        job("j4", "r1", "NEW?"),
    ]
    assert [j.job_id for j in live_in("r1", jobs)] == ["j1", "j2"]


@pytest.mark.parametrize("bad", [job("j1", "r2"), job("../stop", "r1"), job("x" * 65, "r1")])
def test_a_job_of_another_room_or_an_unsendable_id_is_refused(bad: SmartLiveJob) -> None:
    with pytest.raises(InvalidId):
        live_in("r1", [job("j0", "r1"), bad])


def test_rooms_are_sorted_by_name_and_failures_kept_apart() -> None:
    refused = MetaStudioError(400, "MSS.00000003", "Invalid parameter", "rid", None)
    found = [
        RoomJobs(SmartLiveRoom(room_id="r1", room_name="spring sale"), (job("j1", "r1"),)),
        RoomJobs(
            SmartLiveRoom(room_id="r2", room_name="Autumn"), (job("j2", "r2", name="Autumn"),)
        ),
        RoomJobs(SmartLiveRoom(room_id="r3", room_name="Broken"), failure=refused),
        RoomJobs(SmartLiveRoom(room_id="r4", room_name="Odd"), (job("j4", "r9"),)),
        RoomJobs(SmartLiveRoom(room_id="r5", room_name="Ended"), (job("j5", "r5", "FAILED"),)),
    ]
    live, unreadable = sort_found(found)
    assert [(j.job_id, j.room_name) for j in live] == [("j2", "Autumn"), ("j1", "spring sale")]
    assert [(room.room_id, why) for room, why in unreadable] == [
        ("r3", "HTTP 400 MSS.00000003: Invalid parameter"),
        ("r4", "MetaStudio's answer was unusable (MetaStudio listed a job of another room)"),
    ]
