"""Who may stop streams, as whom, and (optionally) in which rooms.

The allowlist maps a Slack user ID to the MetaStudio third-party user ID that their stops are
made as (sent as ``X-App-UserId``), so MetaStudio's own records show who did it. Shape::

    {"U024BE7LH": "ops-alice",
     "U0G9QF9C6": {"app_user_id": "ops-bob", "rooms": ["24bad716-87b1-45e5-8912-6102f7693265"]},
     "U0CAROL01": {"app_user_id": "ops-carol", "stop_all": true}}

A user with ``rooms`` may stop jobs in those rooms only. ``stop_all`` (a JSON boolean, default
false) grants ``/stoplive all``: every live job the user may stop, in one confirmation.

Parsing is strict because every leniency here widens access: an unknown key (``room`` for
``rooms``) would otherwise leave the user unrestricted, a coerced ``true`` would become a room
called "True", and a duplicated key would silently keep the last entry. So unknown keys, wrong
types and duplicate keys are refused, YAML anchors and aliases are refused (a few hundred bytes
of nested aliases expand to gigabytes), and the text is bounded before any parser sees it.

``allowlist_file.py`` holds :class:`LiveAllowlist`, which follows a file of this shape.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from bot.metastudio.ids import InvalidId, check_app_user_id, check_resource_id

_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
MAX_BYTES = 1024 * 1024  # far beyond any real team; bounds parse time and memory
MAX_SHOWN_PROBLEMS = 10  # a wholly wrong file should not print a thousand lines
ENTRY_KEYS = ("app_user_id", "rooms", "stop_all")


class AllowlistError(ValueError):
    """The allowlist cannot be used. Each problem is one line naming the source and the entry;
    ``str()`` joins them on one line."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_SHOWN_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more problems")
        self.problems = shown
        super().__init__("; ".join(shown))


@dataclass(frozen=True)
class Grant:
    app_user_id: str
    rooms: frozenset[str] | None = None  # None: every room
    stop_all: bool = False  # may use /stoplive all (still only in ``rooms``)

    def covers(self, room_id: str) -> bool:
        return self.rooms is None or room_id in self.rooms


class GrantSource(Protocol):
    """What the workflow asks of an allowlist: a fixed :class:`Allowlist` or a
    :class:`LiveAllowlist` both answer it."""

    def grant_for(self, slack_user_id: str) -> Grant | None: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class Allowlist:
    grants: Mapping[str, Grant]

    def grant_for(self, slack_user_id: str) -> Grant | None:
        return self.grants.get(slack_user_id)

    def __len__(self) -> int:
        return len(self.grants)

    def within(self, other: Allowlist) -> Allowlist:
        """What this list grants that ``other`` grants too: only the people in both, as the
        same MetaStudio user, in the rooms both allow. Equal to ``self`` unless ``self``
        widens access somewhere."""
        kept: dict[str, Grant] = {}
        for slack_id, grant in self.grants.items():
            before = other.grants.get(slack_id)
            if before is None or before.app_user_id != grant.app_user_id:
                continue
            if grant.rooms is None:
                rooms = before.rooms
            elif before.rooms is None:
                rooms = grant.rooms
            else:
                rooms = grant.rooms & before.rooms
            kept[slack_id] = Grant(grant.app_user_id, rooms, grant.stop_all and before.stop_all)
        return Allowlist(grants=kept)

    @classmethod
    def from_text(cls, text: str, *, source: str) -> Allowlist:
        """Parse JSON (``STOPLIVE_ALLOWLIST``)."""
        _check_size(len(text.encode("utf-8", "surrogatepass")), source)
        try:
            data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise AllowlistError(
                [f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})"]
            ) from None
        except _DuplicateKey as exc:
            raise AllowlistError([f"{source}: {exc}"]) from None
        except ValueError as exc:  # e.g. an integer longer than Python will convert
            raise AllowlistError([f"{source}: not valid JSON ({_one_line(exc)})"]) from None
        except RecursionError:
            raise AllowlistError([f"{source}: nested too deeply"]) from None
        return cls.from_data(data, source=source)

    @classmethod
    def from_bytes(cls, raw: bytes, *, source: str) -> Allowlist:
        """Parse a file's content: JSON or YAML (YAML is a superset of JSON, so one parser)."""
        return cls.from_data(parse_bytes(raw, source=source), source=source)

    @classmethod
    def from_file(cls, path: str) -> Allowlist:
        return cls.from_bytes(read_bounded(path), source=file_source(path))

    @classmethod
    def from_data(cls, data: object, *, source: str) -> Allowlist:
        """Every entry good, or AllowlistError naming each bad one (start-up refuses them).
        ``{}`` is an allowlist of nobody: what revoking everyone looks like."""
        allowlist, problems = cls.salvage(data, source=source)
        if problems:
            raise AllowlistError(problems)
        return allowlist

    @classmethod
    def salvage(cls, data: object, *, source: str) -> tuple[Allowlist, list[str]]:
        """The good entries, and a problem line for each bad one (its user is left out, so
        a mistake in someone's entry takes their access away and never widens it).
        AllowlistError if ``data`` is not an object at all: nobody's entry can be read."""
        if not isinstance(data, dict):
            raise AllowlistError([f'{source}: must be an object like {{"U024BE7LH": "ops-alice"}}'])
        grants: dict[str, Grant] = {}
        problems: list[str] = []
        for slack_id, entry in data.items():
            where = f"{source}, entry {_shown(slack_id)}"
            if not isinstance(slack_id, str) or not _SLACK_USER_ID.fullmatch(slack_id):
                problems.append(f"{where}: key must be a Slack user ID like U024BE7LH")
                continue
            try:
                grants[slack_id] = _grant(entry, where)
            except AllowlistError as exc:
                problems.extend(exc.problems)
        return cls(grants=grants), problems


def parse_bytes(raw: bytes, *, source: str) -> object:
    """A file's content as data (an empty file is ``{}``), or AllowlistError if it is not
    JSON or YAML."""
    _check_size(len(raw), source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AllowlistError(
            [f"{source}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})"]
        ) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader, stricter
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        where = f", line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise AllowlistError(
            [f"{source}: not valid JSON or YAML ({_one_line(what)}{where})"]
        ) from None
    except yaml.YAMLError as exc:
        raise AllowlistError([f"{source}: not valid JSON or YAML ({_one_line(exc)})"]) from None
    except ValueError as exc:  # e.g. an integer longer than Python will convert
        raise AllowlistError([f"{source}: not valid YAML ({_one_line(exc)})"]) from None
    except RecursionError:
        raise AllowlistError([f"{source}: nested too deeply"]) from None
    return {} if data is None else data  # None: nothing but blanks and comments


def file_source(path: str) -> str:
    return f"STOPLIVE_ALLOWLIST_FILE ({_shown(path, limit=300)})"


def read_bounded(path: str) -> bytes:
    """The file's bytes; AllowlistError if it is not a regular file (a FIFO would hang the
    start-up) or is larger than :data:`MAX_BYTES`."""
    source = file_source(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise AllowlistError([f"{source}: not a regular file"])
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise AllowlistError([f"{source}: cannot read it ({exc.strerror})"]) from None
    _check_size(len(raw), source)
    return raw


def _check_size(size: int, source: str) -> None:
    if size > MAX_BYTES:
        raise AllowlistError([f"{source}: larger than {MAX_BYTES // 1024} KiB"])


def _shown(value: object, limit: int = 40) -> str:
    """A value as it may appear in a message: repr (so control characters are escaped),
    shortened."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to convert
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"key {_shown(key)} appears twice")
        result[key] = value
    return result


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases, merge keys and duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys (<<) are not allowed", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                duplicate = False  # unhashable: the SafeConstructor refuses it below
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {_shown(key)} appears twice", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _grant(entry: object, where: str) -> Grant:
    if isinstance(entry, str):
        return Grant(app_user_id=_app_user_id(entry, where))
    if not isinstance(entry, dict):
        raise AllowlistError(
            [
                f'{where}: value must be an app user ID string or {{"app_user_id": ..., "rooms": [...]}}'
            ]
        )
    problems = [
        f"{where}: unknown key {_shown(key)} (allowed: {', '.join(ENTRY_KEYS)})"
        for key in entry
        if key not in ENTRY_KEYS
    ]
    if "app_user_id" not in entry:
        problems.append(f"{where}: app_user_id is required")
    if problems:
        raise AllowlistError(problems)
    app_user_id = entry["app_user_id"]
    if not isinstance(app_user_id, str):
        raise AllowlistError([f"{where}: app_user_id must be a string"])
    rooms = _rooms(entry["rooms"], where) if "rooms" in entry else None
    stop_all = entry.get("stop_all", False)
    if not isinstance(stop_all, bool):  # "true" or 1 is a typo, never a grant
        raise AllowlistError([f"{where}: stop_all must be true or false (a JSON boolean)"])
    return Grant(app_user_id=_app_user_id(app_user_id, where), rooms=rooms, stop_all=stop_all)


def _app_user_id(value: str, where: str) -> str:
    try:
        return check_app_user_id(value)
    except InvalidId as exc:
        raise AllowlistError([f"{where}: {exc}"]) from None


def _rooms(raw: object, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not raw:
        raise AllowlistError([f"{where}: rooms must be a non-empty list of room IDs"])
    rooms: set[str] = set()
    for room in raw:
        if not isinstance(room, str):
            raise AllowlistError([f"{where}: rooms must hold room ID strings, not {_shown(room)}"])
        try:
            check_resource_id("room ID", room)
        except InvalidId as exc:
            raise AllowlistError([f"{where}: {exc}"]) from None
        if room in rooms:
            raise AllowlistError([f"{where}: room {room!r} is listed twice"])
        rooms.add(room)
    return frozenset(rooms)
