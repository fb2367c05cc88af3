"""Who may stop streams, as whom, and (optionally) in which rooms.

The allowlist maps a Slack user ID to the MetaStudio third-party user ID that their stops are
made as (sent as ``X-App-UserId``), so MetaStudio's own records show who did it. Shape::

    {"U024BE7LH": "ops-alice",
     "U0G9QF9C6": {"app_user_id": "ops-bob", "rooms": ["24bad716-87b1-45e5-8912-6102f7693265"]}}

A user with ``rooms`` may stop jobs in those rooms only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.metastudio.ids import InvalidId, check_app_user_id, check_resource_id

_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


class AllowlistError(ValueError):
    """The allowlist cannot be read; the message names the variable and the entry."""


@dataclass(frozen=True)
class Grant:
    app_user_id: str
    rooms: frozenset[str] | None = None  # None: every room

    def covers(self, room_id: str) -> bool:
        return self.rooms is None or room_id in self.rooms


@dataclass(frozen=True)
class Allowlist:
    grants: Mapping[str, Grant]

    def grant_for(self, slack_user_id: str) -> Grant | None:
        return self.grants.get(slack_user_id)

    def __len__(self) -> int:
        return len(self.grants)

    @classmethod
    def from_text(cls, text: str, *, source: str) -> Allowlist:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AllowlistError(
                f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
        return cls.from_data(data, source=source)

    @classmethod
    def from_file(cls, path: str) -> Allowlist:
        source = f"STOPLIVE_ALLOWLIST_FILE ({path})"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise AllowlistError(f"{source}: cannot read it ({exc.strerror})") from None
        try:
            data = yaml.safe_load(text)  # YAML is a superset of JSON: one parser for both
        except yaml.YAMLError as exc:
            raise AllowlistError(f"{source}: not valid JSON or YAML ({exc})") from None
        return cls.from_data(data, source=source)

    @classmethod
    def from_data(cls, data: object, *, source: str) -> Allowlist:
        if not isinstance(data, dict) or not data:
            raise AllowlistError(
                f'{source}: must be a non-empty object like {{"U024BE7LH": "ops-alice"}}'
            )
        grants: dict[str, Grant] = {}
        for slack_id, entry in data.items():
            where = f"{source}, entry {slack_id!r}"
            if not isinstance(slack_id, str) or not _SLACK_USER_ID.fullmatch(slack_id):
                raise AllowlistError(f"{where}: key must be a Slack user ID like U024BE7LH")
            grants[slack_id] = _grant(entry, where)
        return cls(grants=grants)


def _grant(entry: object, where: str) -> Grant:
    rooms: frozenset[str] | None = None
    if isinstance(entry, dict):
        app_user_id = entry.get("app_user_id")
        if "rooms" in entry:
            raw_rooms = entry["rooms"]
            if not isinstance(raw_rooms, list) or not raw_rooms:
                raise AllowlistError(f"{where}: rooms must be a non-empty list of room IDs")
            try:
                rooms = frozenset(check_resource_id("room ID", str(room)) for room in raw_rooms)
            except InvalidId as exc:
                raise AllowlistError(f"{where}: {exc}") from None
    else:
        app_user_id = entry
    if not isinstance(app_user_id, str):
        raise AllowlistError(
            f'{where}: value must be an app user ID string or {{"app_user_id": ..., "rooms": [...]}}'
        )
    try:
        check_app_user_id(app_user_id)
    except InvalidId as exc:
        raise AllowlistError(f"{where}: {exc}") from None
    return Grant(app_user_id=app_user_id, rooms=rooms)
