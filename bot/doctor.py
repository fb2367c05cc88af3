"""``python -m bot check``: can this configuration stop a stream? Prints what works and
exactly what to fix, then exits 0 (all good) or 1.

It reads, never writes (but for creating an absent SQLite journal): the state store (PING or
open), Slack ``auth.test`` (and ``apps.connections.open`` in Socket Mode) and one signed
MetaStudio read (how many rooms the project has). Every probe gets at most
:data:`PROBE_SECONDS`, so the whole check ends within four of them whatever the network does;
every failure, network ones included, is one FAIL line saying what to fix. Each line is
flushed as it is written: someone piping it into ``tee`` at 3 a.m. sees progress, not nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.app import build_metastudio, build_store, slack_client
from bot.config import AuthMode, ConfigError, Settings, load_settings
from bot.metastudio import (
    IamError,
    MetaStudioClient,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
)
from bot.metastudio.errors import clock_skew_words
from bot.metastudio.text import safe_text
from bot.stopflow.store import StoreUnavailable

OK, WARN, FAIL = "OK  ", "WARN", "FAIL"
PROBE_SECONDS = 10.0

T = TypeVar("T")


def say(line: str) -> None:
    print(line, flush=True)


async def bounded(call: Awaitable[T]) -> T:
    """``call``'s result, or TimeoutError after :data:`PROBE_SECONDS`."""
    return await asyncio.wait_for(call, PROBE_SECONDS)


async def run_checks() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        say(f"{FAIL} configuration\n{exc}")
        return 1
    grants = settings.allowlist
    say(
        f"{OK} configuration: MetaStudio auth {settings.auth_mode.value}, "
        f"{'Socket Mode' if settings.use_socket_mode else f'HTTP mode on port {settings.port}'}, "
        f"{len(grants)} allowlisted user(s)"
    )
    _access(settings)
    results = [await _store(settings), await _slack(settings), await _metastudio(settings)]
    return 0 if all(results) else 1


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
        say(f"{WARN} access: nobody may stop streams (the allowlist is empty)")
        return
    say(f"{OK} access: /stoplive works {where}; {len(grants)} people may stop:")
    for slack_id, grant in sorted(grants.items()):
        rooms = (
            "every room"
            if grant.rooms is None
            else ("room " if len(grant.rooms) == 1 else "rooms ") + ", ".join(sorted(grant.rooms))
        )
        say(f"       {slack_id} as MetaStudio user {grant.app_user_id}, in {rooms}")


async def _store(settings: Settings) -> bool:
    """The state store answers (Redis PING, or the SQLite journal opened, created if new):
    without it no stop is sent, so a bot that cannot reach it refuses every click."""
    url = settings.stoplive_redis_url
    where = "Redis (STOPLIVE_REDIS_URL)" if url else f"SQLite file {settings.stoplive_state_file}"
    fix = (
        "Check STOPLIVE_REDIS_URL (or REDIS_URL) and that Redis is up"
        if url
        else "Check STOPLIVE_STATE_FILE: its folder must exist and be writable"
    )
    store = build_store(settings)
    try:
        await bounded(store.ping())
    except (StoreUnavailable, TimeoutError) as exc:
        why = f"no answer within {PROBE_SECONDS:.0f} s" if isinstance(exc, TimeoutError) else exc
        say(f"{FAIL} state store: {where}: {safe_text(why, 200)}. {fix}")
        return False
    finally:
        await store.aclose()
    say(f"{OK} state store: {where} answers")
    return True


def _network_failure(what: str, where: str, exc: BaseException, fix: str) -> str:
    if isinstance(exc, TimeoutError):
        why = f"no answer within {PROBE_SECONDS:.0f} s"
    else:
        why = f"{type(exc).__name__}: {safe_text(exc, 200) or 'connection failed'}"
    return f"{FAIL} {what}: cannot reach {where} ({why}). {fix}"


def _slack_error(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return safe_text(error or "an answer that is not Slack's", 100)


# What a Slack call raises when the network, not Slack, said no: a dropped connection is an
# aiohttp.ClientError (not an OSError); a timeout is ours.
_SLACK_NETWORK = (aiohttp.ClientError, OSError, TimeoutError, SlackClientError)


async def _slack(settings: Settings) -> bool:
    fix = "Check SLACK_API_URL and the network"
    try:
        who = await bounded(slack_client(settings).auth_test())
    except SlackApiError as exc:
        say(
            f"{FAIL} Slack bot token: {_slack_error(exc)}. Fix SLACK_BOT_TOKEN "
            "(OAuth & Permissions → Bot User OAuth Token, xoxb-…)"
        )
        return False
    except _SLACK_NETWORK as exc:
        say(_network_failure("Slack", settings.slack_api_url, exc, fix))
        return False
    say(
        f"{OK} Slack bot token: {safe_text(who.get('user'), 80)} in "
        f"{safe_text(who.get('team'), 80)} ({settings.slack_api_url})"
    )
    if not settings.use_socket_mode or settings.slack_app_token is None:
        return True
    app_token = settings.slack_app_token.get_secret_value()
    try:
        await bounded(
            slack_client(settings, token=app_token).apps_connections_open(app_token=app_token)
        )
    except SlackApiError as exc:
        say(
            f"{FAIL} Slack app token: {_slack_error(exc)}. Fix SLACK_APP_TOKEN "
            "(Basic Information → App-Level Tokens, scope connections:write, xapp-…)"
        )
        return False
    except _SLACK_NETWORK as exc:
        say(_network_failure("Slack app token", settings.slack_api_url, exc, fix))
        return False
    say(f"{OK} Slack app token: Socket Mode connection allowed")
    return True


async def _metastudio(settings: Settings) -> bool:
    grants = settings.allowlist.grants
    if not grants:  # revoked everyone: there is no MetaStudio user to read as
        say(f"{WARN} MetaStudio: not checked: the allowlist is empty, so nobody may stop")
        return True
    app_user = next(iter(grants.values())).app_user_id
    async with build_metastudio(settings) as client:
        good = await _metastudio_read(settings, client, app_user)
        return _clock(client, signed=settings.auth_mode is AuthMode.AKSK) and good


async def _metastudio_read(settings: Settings, client: MetaStudioClient, app_user: str) -> bool:
    where = f"MetaStudio at {settings.metastudio_base_url}"
    try:
        count = await bounded(client.count_rooms(app_user))
    except IamError as exc:
        say(f"{FAIL} IAM at {settings.iam_base_url}: {exc}. Fix: {_iam_hint(exc)}")
        return False
    except MetaStudioError as exc:
        say(f"{FAIL} {where}: {exc}. Fix: {_metastudio_hint(exc)}")
        return False
    except UnreadableAnswer as exc:
        say(
            f"{FAIL} {where}: answered, but not as MetaStudio does ({exc.detail}). Check that "
            "METASTUDIO_ENDPOINT is MetaStudio's API, not a proxy or a web page"
        )
        return False
    except (Unreachable, OutcomeUnknown, TimeoutError) as exc:
        servers = "MetaStudio or IAM" if settings.auth_mode is AuthMode.IAM_PASSWORD else where
        fix = "Check METASTUDIO_REGION or METASTUDIO_ENDPOINT"
        if settings.auth_mode is AuthMode.IAM_PASSWORD:
            fix += ", HUAWEICLOUD_IAM_ENDPOINT"
        say(_network_failure("MetaStudio", servers, exc, fix + " and the network"))
        return False
    say(
        f"{OK} MetaStudio ({settings.auth_mode.value}) at {settings.metastudio_base_url}: "
        f"signed read works, project has {count} room(s)"
    )
    return True


def _clock(client: MetaStudioClient, *, signed: bool) -> bool:
    """What the answers' ``Date`` headers said about this machine's clock (nothing if no
    answer came). Off by more than a few minutes fails AK/SK (signatures are held to the
    clock) and only warns with IAM tokens (they are not)."""
    skew = client.clock_skew_seconds
    if skew is None:
        return True
    if client.clock_is_off:
        say(f"{FAIL if signed else WARN} clock: {clock_skew_words(skew)}")
        return not signed
    say(f"{OK} clock: within {abs(skew):.0f} s of MetaStudio's")
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
