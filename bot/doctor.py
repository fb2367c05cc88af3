"""``python -m bot check``: can this configuration stop a stream? Prints what works and
exactly what to fix, then exits 0 (all good) or 1.

It reads, never writes: Slack ``auth.test`` (and ``apps.connections.open`` in Socket Mode)
and one signed MetaStudio read (the project's rooms).
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.app import build_metastudio, slack_client
from bot.config import ConfigError, Settings, load_settings
from bot.metastudio import MetaStudioError, OutcomeUnknown, Unreachable

OK, FAIL = "OK  ", "FAIL"


async def run_checks() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"{FAIL} configuration\n{exc}")
        return 1
    grants = settings.allowlist
    print(
        f"{OK} configuration: MetaStudio auth {settings.auth_mode.value}, "
        f"{'Socket Mode' if settings.use_socket_mode else f'HTTP mode on port {settings.port}'}, "
        f"{len(grants)} allowlisted user(s)"
    )
    results = [await _slack(settings), await _metastudio(settings)]
    return 0 if all(results) else 1


async def _slack(settings: Settings) -> bool:
    good = True
    try:
        who = await slack_client(settings).auth_test()
        print(
            f"{OK} Slack bot token: {who.get('user')} in {who.get('team')} ({settings.slack_api_url})"
        )
    except SlackApiError as exc:
        print(
            f"{FAIL} Slack bot token: {exc.response.get('error')}. Fix SLACK_BOT_TOKEN "
            "(OAuth & Permissions → Bot User OAuth Token, xoxb-…)"
        )
        good = False
    except OSError as exc:
        print(
            f"{FAIL} Slack: cannot reach {settings.slack_api_url} ({exc}). Check SLACK_API_URL and the network"
        )
        return False
    if settings.use_socket_mode and settings.slack_app_token is not None:
        app_token = settings.slack_app_token.get_secret_value()
        try:
            await slack_client(settings, token=app_token).apps_connections_open(app_token=app_token)
            print(f"{OK} Slack app token: Socket Mode connection allowed")
        except SlackApiError as exc:
            print(
                f"{FAIL} Slack app token: {exc.response.get('error')}. Fix SLACK_APP_TOKEN "
                "(Basic Information → App-Level Tokens, scope connections:write, xapp-…)"
            )
            good = False
    return good


async def _metastudio(settings: Settings) -> bool:
    app_user = next(iter(settings.allowlist.grants.values())).app_user_id
    async with build_metastudio(settings) as client:
        try:
            count = await client.list_rooms(app_user)
        except MetaStudioError as exc:
            hint = {
                401: "the credentials were refused: check HUAWEICLOUD_SDK_AK/SK, METASTUDIO_AUTH_TOKEN "
                "or the HUAWEICLOUD_IAM_* settings",
                403: "the credentials lack MetaStudio permissions for this project",
                404: "check METASTUDIO_PROJECT_ID and METASTUDIO_REGION/METASTUDIO_ENDPOINT",
            }.get(exc.status, "see the error above")
            print(f"{FAIL} MetaStudio at {settings.metastudio_base_url}: {exc}. Fix: {hint}")
            return False
        except (Unreachable, OutcomeUnknown) as exc:
            print(
                f"{FAIL} MetaStudio at {settings.metastudio_base_url}: {exc}. Check "
                "METASTUDIO_REGION or METASTUDIO_ENDPOINT and the network"
            )
            return False
    print(
        f"{OK} MetaStudio ({settings.auth_mode.value}) at {settings.metastudio_base_url}: "
        f"signed read works, project has {count} room(s)"
    )
    return True
