"""``python -m bot check``: can this configuration stop a stream? Prints what works and
exactly what to fix, then exits 0 (all good) or 1.

It reads, never writes (but for creating an absent SQLite journal, and Redis's health key,
which expires on its own): the state store (a write probe, then its set-up: persistence,
eviction, role, this host's clock against Redis's), Slack ``auth.test`` (and
``apps.connections.open`` in Socket Mode) and one signed MetaStudio read (how many rooms the
project has). Every probe gets at most :data:`PROBE_SECONDS`, so the whole check ends within
four of them whatever the network does.

Each probe prints exactly one line, :func:`report`'s ``STATUS probe: what was found. Fix:
what to do``, and nothing else reaches stdout or stderr (no library's log line): OK, WARN, FAIL,
or SKIP when an earlier failure makes the probe pointless. Each line is flushed as it is
written: someone piping it into ``tee`` at 3 a.m. sees progress, not nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.app import build_metastudio, build_store, slack_client
from bot.config import AuthMode, ConfigError, Settings, load_settings
from bot.metastudio import (
    IamError,
    MetaStudioClient,
    MetaStudioError,
    MetaStudioFailure,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
)
from bot.metastudio.errors import clock_skew_words
from bot.metastudio.listing import tenant_list_refused
from bot.metastudio.text import safe_text
from bot.stopflow.store import StoreRefusesWrites, StoreUnavailable

OK, WARN, FAIL, SKIP = "OK  ", "WARN", "FAIL", "SKIP"
_TENANT_LIST_FAILURES: tuple[type[Exception], ...] = (MetaStudioFailure, TimeoutError)
PROBE_SECONDS = 10.0

T = TypeVar("T")


def say(line: str) -> None:
    print(line, flush=True)


def report(status: str, probe: str, found: str, fix: str = "") -> None:
    """One probe's line: ``FAIL MetaStudio at …: HTTP 401 …. Fix: check …``."""
    line = f"{status} {probe}: {found}"
    if fix:
        line = f"{line.rstrip('.')}. Fix: {fix}"
    say(line)


# With nothing configured, a newcomer needs the way in more than a list of missing names.
START_HERE = (
    "copy .env.example to .env and fill it in (README: Configuration, Set up in Slack); "
    "to try stoplive first with nothing to set up, run python -m bot sandbox"
)


async def bounded(call: Awaitable[T]) -> T:
    """``call``'s result, or TimeoutError after :data:`PROBE_SECONDS`."""
    return await asyncio.wait_for(call, PROBE_SECONDS)


async def run_checks() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        problems = [
            line.strip().removeprefix("- ") for line in str(exc).splitlines() if line[:1] == " "
        ]
        if _nothing_configured():
            report(FAIL, "configuration", "nothing is set (no .env here, no variables)", START_HERE)
        else:
            fix = "set them in the environment or .env (README: Configuration; .env.example)"
            report(FAIL, "configuration", "; ".join(problems or [str(exc)]), fix)
        report(SKIP, "state store, Slack, MetaStudio", "not checked without a configuration")
        return 1
    grants = settings.allowlist
    mode = "Socket Mode" if settings.use_socket_mode else f"HTTP mode on port {settings.port}"
    report(
        OK,
        "configuration",
        f"MetaStudio auth {settings.auth_mode.value}, {mode}, {_people(len(grants))} allowlisted",
    )
    _access(settings)
    _stream_watch(settings)
    results = [await _store(settings), await _slack(settings), await _metastudio(settings)]
    return 0 if all(results) else 1


def _nothing_configured() -> bool:
    """No ``.env`` here and not one of the settings' variables in the environment."""
    names = {name.upper() for name in Settings.model_fields} | {"REDIS_URL"}
    return not Path(".env").exists() and not names & {name.upper() for name in os.environ}


# The settings that only shape the stream watch: set without STOPLIVE_NOTIFY_CHANNEL, they do
# nothing, and whoever set them believes they are told of long lives or ends.
WATCH_ONLY = (
    "stoplive_long_live_hours",
    "stoplive_notify_starts",
    "stoplive_notify_ends",
    "stoplive_notify_seconds",
)


def _stream_watch(settings: Settings) -> None:
    """Whether the stream watch is on, where it posts and what it tells (settings only); a
    WARN when its settings do nothing, or when people told in its channel cannot act there."""
    channel = settings.stoplive_notify_channel
    if channel is None:
        idle = [name.upper() for name in WATCH_ONLY if name in settings.model_fields_set]
        if idle:
            verb = "does" if len(idle) == 1 else "do"
            found = f"off (STOPLIVE_NOTIFY_CHANNEL is not set): {', '.join(idle)} {verb} nothing"
            fix = "set STOPLIVE_NOTIFY_CHANNEL to the channel to tell, or remove them"
            report(WARN, "stream watch", found, fix)
            return
        report(OK, "stream watch", "off (STOPLIVE_NOTIFY_CHANNEL is not set)")
        return
    told = ["ends with an error" if settings.stoplive_notify_ends == "errors" else "every end"]
    if settings.stoplive_long_live_hours:
        told.append(f"streams live over {settings.stoplive_long_live_hours:g} h")
    if settings.stoplive_notify_starts:
        told.append("starts")
    found = (
        f"on, posting to {channel} every {settings.stoplive_notify_seconds:g} s at most: "
        + ", ".join(told)
    )
    allowed = settings.allowed_channels
    # Whatever the notes carry: people told there of a stream act there (/stoplive, and the
    # Stop… button of a long live), and both are refused outside the allowed channels.
    if allowed and channel not in allowed:
        refused = (
            "/stoplive and its notes' Stop… buttons are"
            if settings.stoplive_long_live_hours
            else "/stoplive is"
        )
        fix = (
            f"add {channel} to STOPLIVE_ALLOWED_CHANNELS so that people can act where they are told"
        )
        report(WARN, "stream watch", f"{found}; {refused} refused there", fix)
        return
    report(OK, "stream watch", found)


def _access(settings: Settings) -> None:
    """Who may stop what, where, as the running bot would decide it: so that a setting that
    did not take (a misspelt name, a file not where it was thought) shows here, not at 3 a.m."""
    channels = sorted(settings.allowed_channels)
    where = (
        "in channels " + ", ".join(channels)
        if channels
        else "in any channel (STOPLIVE_ALLOWED_CHANNELS is not set)"
    )
    grants = settings.allowlist.grants
    if not grants:
        report(WARN, "access", "nobody may stop streams (the allowlist is empty)")
        return
    report(OK, "access", f"/stoplive works {where}; {_people(len(grants))} may stop")
    for slack_id, grant in sorted(grants.items()):
        rooms = (
            "every room"
            if grant.rooms is None
            else ("room " if len(grant.rooms) == 1 else "rooms ") + ", ".join(sorted(grant.rooms))
        )
        everything = "; /stoplive all too" if grant.stop_all else ""
        report(
            OK,
            f"access of {slack_id}",
            f"as MetaStudio user {grant.app_user_id}, in {rooms}{everything}",
        )
    approval = settings.stoplive_stop_all_approval
    if any(grant.stop_all for grant in grants.values()):
        who = (
            "the requester confirms, a second person with the grant approves"
            if approval == "two-person"
            else "the requester's confirmation alone"
        )
        report(OK, "stop all", f"/stoplive all: {who} (STOPLIVE_STOP_ALL_APPROVAL={approval})")


async def _store(settings: Settings) -> bool:
    """The state store answers (Redis PING, or the SQLite journal opened, created if new):
    without it no stop is sent, so a bot that cannot reach it refuses every click."""
    url = settings.stoplive_redis_url
    where = "Redis (STOPLIVE_REDIS_URL)" if url else f"SQLite file {settings.stoplive_state_file}"
    fix = (
        "check STOPLIVE_REDIS_URL (or REDIS_URL) and that Redis is up"
        if url
        else "check STOPLIVE_STATE_FILE: its folder must exist and be writable"
    )
    store = build_store(settings)
    try:
        await bounded(store.ping())
        caveats = await bounded(store.caveats())
    except StoreRefusesWrites as exc:
        report(
            FAIL,
            "state store",
            f"{where} answers but is refusing writes ({safe_text(exc, 200)})",
            "give it memory (maxmemory) or point the URL at the primary, not a replica",
        )
        return False
    except (StoreUnavailable, TimeoutError) as exc:
        why = f"no answer within {PROBE_SECONDS:.0f} s" if isinstance(exc, TimeoutError) else exc
        report(FAIL, "state store", f"{where}: {safe_text(why, 200)}", fix)
        return False
    finally:
        await store.aclose()
    report(OK, "state store", f"{where} answers and takes writes")
    for caveat in caveats:
        report(WARN, "state store", f"{where} {caveat}")
    return True


def _network_failure(what: str, where: str, exc: BaseException, fix: str) -> None:
    if isinstance(exc, TimeoutError):
        why = f"no answer within {PROBE_SECONDS:.0f} s"
    else:
        # the network's own error, not the client's wrapping of it (Unreachable, OutcomeUnknown)
        exc = getattr(exc, "cause", None) or exc
        why = f"{type(exc).__name__}: {safe_text(exc, 200) or 'connection failed'}"
    report(FAIL, what, f"cannot reach {where} ({why})", fix)


def _slack_error(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return safe_text(error or "an answer that is not Slack's", 100)


# What a Slack call raises when the network, not Slack, said no: a dropped connection is an
# aiohttp.ClientError (not an OSError); a timeout is ours.
_SLACK_NETWORK = (aiohttp.ClientError, OSError, TimeoutError, SlackClientError)


async def _slack(settings: Settings) -> bool:
    fix = "check SLACK_API_URL and the network"
    app = "Slack app token"
    try:
        who = await bounded(slack_client(settings).auth_test())
    except SlackApiError as exc:
        report(
            FAIL,
            "Slack bot token",
            _slack_error(exc),
            "check SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token, xoxb-…)",
        )
        bot_token = False
    except _SLACK_NETWORK as exc:
        _network_failure("Slack bot token", settings.slack_api_url, exc, fix)
        if settings.use_socket_mode:
            report(SKIP, app, "not checked: Slack could not be reached")
        return False
    else:
        bot_token = True
        report(
            OK,
            "Slack bot token",
            f"{safe_text(who.get('user'), 80)} in {safe_text(who.get('team'), 80)} "
            f"({settings.slack_api_url})",
        )
    if not settings.use_socket_mode or settings.slack_app_token is None:
        return bot_token
    return await _app_token(settings, settings.slack_app_token.get_secret_value()) and bot_token


async def _app_token(settings: Settings, app_token: str) -> bool:
    fix = "check SLACK_API_URL and the network"
    try:
        await bounded(
            slack_client(settings, token=app_token).apps_connections_open(app_token=app_token)
        )
    except SlackApiError as exc:
        report(
            FAIL,
            "Slack app token",
            _slack_error(exc),
            "check SLACK_APP_TOKEN (Basic Information → App-Level Tokens, scope "
            "connections:write, xapp-…)",
        )
        return False
    except _SLACK_NETWORK as exc:
        _network_failure("Slack app token", settings.slack_api_url, exc, fix)
        return False
    report(OK, "Slack app token", "Socket Mode connection allowed")
    return True


async def _metastudio(settings: Settings) -> bool:
    grants = settings.allowlist.grants
    if not grants:  # revoked everyone: there is no MetaStudio user to read as
        report(WARN, "MetaStudio", "not checked: the allowlist is empty, so nobody may stop")
        return True
    app_user = next(iter(grants.values())).app_user_id
    async with build_metastudio(settings) as client:
        good = await _metastudio_read(settings, client, app_user)
        if good:
            await _tenant_list(client, app_user)
        return _clock(client, signed=settings.auth_mode is AuthMode.AKSK) and good


async def _metastudio_read(settings: Settings, client: MetaStudioClient, app_user: str) -> bool:
    where = f"MetaStudio at {settings.metastudio_base_url}"
    try:
        count = await bounded(client.count_rooms(app_user))
    except IamError as exc:
        report(FAIL, f"IAM at {settings.iam_base_url}", str(exc), _iam_hint(exc))
        return False
    except MetaStudioError as exc:
        report(FAIL, where, str(exc), _metastudio_hint(exc))
        return False
    except UnreadableAnswer as exc:
        report(
            FAIL,
            where,
            f"answered, but not as MetaStudio does ({exc.detail})",
            "check that METASTUDIO_ENDPOINT is MetaStudio's API, not a proxy or a web page",
        )
        return False
    except (Unreachable, OutcomeUnknown, TimeoutError) as exc:
        servers = "MetaStudio or IAM" if settings.auth_mode is AuthMode.IAM_PASSWORD else where
        fix = "check METASTUDIO_REGION or METASTUDIO_ENDPOINT"
        if settings.auth_mode is AuthMode.IAM_PASSWORD:
            fix += ", HUAWEICLOUD_IAM_ENDPOINT"
        _network_failure("MetaStudio", servers, exc, fix + " and the network")
        return False
    report(
        OK,
        f"MetaStudio ({settings.auth_mode.value}) at {settings.metastudio_base_url}",
        f"signed read works, project has {count} room(s)",
    )
    return True


async def _tenant_list(client: MetaStudioClient, app_user: str) -> None:
    """Whether ``/stoplive`` can list every live job in one call (ListSmartLiveJobs) or reads
    room by room: a WARN, never a FAIL, as the bot works either way (slower with many rooms)."""
    try:
        count = await bounded(client.count_live_jobs(app_user))
    except _TENANT_LIST_FAILURES as exc:
        what = "MetaStudio tenant-wide job list (ListSmartLiveJobs)"
        if tenant_list_refused(exc):
            report(
                WARN,
                what,
                f"refused ({exc}): /stoplive lists live jobs room by room, one call per live "
                "room (slower with many rooms)",
                "allow ListSmartLiveJobs to list in one call",
            )
        else:
            report(WARN, what, f"could not be checked ({exc or type(exc).__name__})")
        return
    report(OK, "MetaStudio tenant-wide job list", f"/stoplive lists in one call ({count} live now)")


def _clock(client: MetaStudioClient, *, signed: bool) -> bool:
    """What the answers' ``Date`` headers said about this machine's clock (nothing if no
    answer came). Off by more than a few minutes fails AK/SK (signatures are held to the
    clock) and only warns with IAM tokens (they are not)."""
    skew = client.clock_skew_seconds
    if skew is None:
        report(SKIP, "clock", "MetaStudio gave no answer to compare it with")
        return True
    if client.clock_is_off:
        report(
            FAIL if signed else WARN,
            "clock",
            clock_skew_words(skew),
            "set this machine's clock right (NTP)",
        )
        return not signed
    report(OK, "clock", f"within {abs(skew):.0f} s of MetaStudio's")
    return True


def _metastudio_hint(exc: MetaStudioError) -> str:
    if exc.clock_skew is not None:
        return "set this machine's clock right (NTP); the credentials may well be fine"
    return {
        401: "the credentials were refused: check HUAWEICLOUD_SDK_AK/SK, METASTUDIO_AUTH_TOKEN "
        "or the HUAWEICLOUD_IAM_* settings",
        403: "the credentials lack MetaStudio permissions for this project",
        404: "check METASTUDIO_PROJECT_ID and METASTUDIO_REGION/METASTUDIO_ENDPOINT",
    }.get(exc.status, "see the error above")


def _iam_hint(exc: IamError) -> str:
    if exc.status in (400, 401, 403):
        return (
            "check HUAWEICLOUD_IAM_USERNAME, HUAWEICLOUD_IAM_PASSWORD, HUAWEICLOUD_IAM_DOMAIN "
            "and METASTUDIO_PROJECT_ID"
        )
    if exc.status == 0:
        return "check HUAWEICLOUD_IAM_ENDPOINT (or METASTUDIO_REGION) and the network"
    return "IAM is failing; try again in a few minutes"


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"
