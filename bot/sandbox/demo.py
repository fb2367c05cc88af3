"""The sandbox's demo project: its people, rooms, jobs and channels, and the bot's settings.

Everything the bot is given here is made up and points at loopback. The settings are built from
these values alone: no environment variable and no ``.env`` file is read, so a developer's real
``SLACK_BOT_TOKEN`` or ``METASTUDIO_ENDPOINT`` can never reach a sandbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.config import Settings
from bot.sandbox.standins.metastudio import MetaStudioStandIn

PROJECT_ID = "5a0d60c5a0d60c5a0d60c5a0d60c5a0d"
AK = "SANDBOXAK00000000000"
SK = "sandbox-secret-key-known-to-the-stand-in-only"
BOT_TOKEN = "xoxb-1111111111111-2222222222222-SandboxNotARealToken000"
SIGNING_SECRET = "5a0d60c5e3c4e7f1a2b3c4d5e6f70819"
CONTACT = "#stoplive-admins"
# How long the bot watches a stopped job. Production waits 30 s; a demo of "the job is still
# live after the stop" should not keep its audience that long.
VERIFY_SECONDS = 10.0
# Production keeps watching a job that is still live after that, for minutes, and reports later
# in a thread. The sandbox does not, so that every turn of the conversation ends.
WATCH_SECONDS = 0.0

INCIDENTS = "C0INCIDENT"
AUDIT = "C0AUDIT00"
ONCALL = "C0ONCALL0"  # where the stream watch posts
CHANNELS = {INCIDENTS: "incidents", AUDIT: "audit", ONCALL: "oncall"}
# The stream watch polls this often (the least allowed); after a fault that ends a stream the
# sandbox polls at once, so the note shows up without waiting.
NOTIFY_SECONDS = 10.0


@dataclass(frozen=True)
class DemoJob:
    job_id: str
    state: str
    started_minutes_ago: int
    ended_minutes_ago: int | None = None


@dataclass(frozen=True)
class DemoRoom:
    room_id: str
    name: str
    jobs: tuple[DemoJob, ...]


SPRING_SALE = "24bad716-87b1-45e5-8912-6102f7693265"
ROOMS = (
    DemoRoom(
        SPRING_SALE,
        "Spring sale",
        (
            DemoJob("26f06524-4f75-4b3a-a853-b649a21aaf66", "PROCESSING", 62),
            DemoJob("0b7e5c1a-3d2f-4e8a-9c6b-5a4d3e2f1a0b", "SUCCEED", 1500, 1380),
        ),
    ),
    DemoRoom(
        "7c3e9a41-5b2d-4f68-a1e0-93d4c6b82f15",
        "Night market",
        (
            DemoJob("e1d2c3b4-a5f6-4789-8a0b-1c2d3e4f5a6b", "PROCESSING", 190),
            DemoJob("f2e3d4c5-b6a7-4890-9b1c-2d3e4f5a6b7c", "PROCESSING", 25),
            DemoJob("a3f4e5d6-c7b8-4901-8c2d-3e4f5a6b7c8d", "WAITING", 2),
            DemoJob("b4a5f6e7-d8c9-4012-9d3e-4f5a6b7c8d9e", "FAILED", 300, 290),
        ),
    ),
    DemoRoom(
        "3f8b2d6e-9a1c-4e57-b0d4-c6a8e2f41b93",
        "Product launch",
        (DemoJob("c5b6a7f8-e9d0-4123-8e4f-5a6b7c8d9e0f", "PROCESSING", 12),),
    ),
    DemoRoom(
        "9e4a1f7c-2b8d-4c36-a5e9-71d0b3f6c284",
        "Morning news",
        (
            DemoJob("d6c7b8a9-f0e1-4234-9f5a-6b7c8d9e0f1a", "SUCCEED", 600, 480),
            DemoJob("e7d8c9b0-a1f2-4345-8a6b-7c8d9e0f1a2b", "SUCCEED", 2040, 1920),
        ),
    ),
)


@dataclass(frozen=True)
class Person:
    name: str
    slack_id: str
    app_user_id: str | None  # None: not on the allowlist
    rooms: tuple[str, ...] | None = None  # None: every room
    may: str = ""  # what they may do, in words
    stop_all: bool = False  # may use /stoplive all


PEOPLE = {
    person.name: person
    for person in (
        Person(
            "alice",
            "U0ALICE01",
            "ops-alice",
            may="may stop streams in every room, and all at once (/stoplive all)",
            stop_all=True,
        ),
        Person(
            "bob",
            "U0BOB0002",
            "ops-bob",
            rooms=(SPRING_SALE,),
            may="may stop streams in Spring sale only",
        ),
        Person("mallory", "U0MALLORY", None, may="is not on the allowlist"),
    )
}


def allowlist() -> str:
    entries: dict[str, object] = {}
    for person in PEOPLE.values():
        if person.app_user_id is None:
            continue
        entry: dict[str, object] = {"app_user_id": person.app_user_id}
        if person.rooms is not None:
            entry["rooms"] = list(person.rooms)
        if person.stop_all:
            entry["stop_all"] = True
        entries[person.slack_id] = entry if len(entry) > 1 else person.app_user_id
    return json.dumps(entries)


def populate(metastudio: MetaStudioStandIn, now: datetime | None = None) -> None:
    """Put the demo's rooms and jobs into the MetaStudio stand-in."""
    now = now or datetime.now(UTC)
    metastudio.aksk[AK] = SK
    for room in ROOMS:
        for demo_job in room.jobs:
            job = metastudio.add_job(
                room.room_id, demo_job.job_id, room_name=room.name, state=demo_job.state
            )
            job.start_time = now - timedelta(minutes=demo_job.started_minutes_ago)
            if demo_job.ended_minutes_ago is not None:
                job.end_time = now - timedelta(minutes=demo_job.ended_minutes_ago)


class SandboxSettings(Settings):
    """stoplive's own Settings, read from the values given and nothing else."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings(metastudio_url: str, slack_api_url: str, state_dir: Path) -> Settings:
    """The bot's settings: HTTP mode on a free loopback port, AK/SK auth, the demo allowlist."""
    return SandboxSettings(
        metastudio_project_id=PROJECT_ID,
        metastudio_endpoint=metastudio_url,
        huaweicloud_sdk_ak=AK,
        huaweicloud_sdk_sk=SK,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api_url,
        stoplive_mode="http",
        stoplive_host="127.0.0.1",
        port=0,
        stoplive_allowlist=allowlist(),
        stoplive_contact=CONTACT,
        stoplive_allowed_channels=INCIDENTS,
        stoplive_audit_channel=AUDIT,
        stoplive_verify_seconds=VERIFY_SECONDS,
        stoplive_watch_seconds=WATCH_SECONDS,
        stoplive_notify_channel=ONCALL,
        stoplive_notify_seconds=NOTIFY_SECONDS,
        stoplive_state_file=str(state_dir / "stoplive-state.db"),
    )
