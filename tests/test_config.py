"""Settings: every problem named at once, secrets never shown, nothing wrong let through."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import SettingsConfigDict

from bot.app import metastudio_auth, notify_rules
from bot.config import AuthMode, ConfigError, Settings, load_settings
from bot.metastudio.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from bot.sandbox.standins.metastudio import MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from bot.setting_names import known_names
from tests.builders import bot_settings

PROJECT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
SECRET = "8f742231b10e8888abcd99aaabbb85a5"
BASE: dict[str, Any] = {
    "_env_file": None,
    "metastudio_project_id": PROJECT,
    "slack_bot_token": "xoxb-1-SECRETBOT",
    "slack_signing_secret": SECRET,
    "stoplive_allowlist": '{"U024BE7LH": "ops-alice"}',
    "huaweicloud_sdk_ak": "AK",
    "huaweicloud_sdk_sk": "SK-SECRET",
}
REPO = Path(__file__).resolve().parent.parent


def settings(**changes: Any) -> Settings:
    return load_settings(**{**BASE, **changes})


def problems(**changes: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        settings(**changes)
    return str(raised.value)


def test_defaults_and_derived_values() -> None:
    s = settings()
    assert s.metastudio_base_url == "https://metastudio.cn-north-4.myhuaweicloud.com"
    assert s.iam_base_url == "https://iam.cn-north-4.myhuaweicloud.com"
    assert s.port == 3000 and s.stoplive_confirm_ttl == 300 and not s.use_socket_mode
    assert s.auth_mode is AuthMode.AKSK and isinstance(metastudio_auth(s), AkSkAuth)
    assert (s.stoplive_log_level, s.stoplive_state_file, s.stoplive_watch_seconds) == (
        "INFO",
        "stoplive-state.db",
        600.0,
    )
    assert s.stoplive_redis_url is None and s.stoplive_console_url is None
    assert settings(metastudio_region="cn-east-3").metastudio_base_url.endswith(
        "cn-east-3.myhuaweicloud.com"
    )
    assert (
        settings(metastudio_endpoint="http://127.0.0.1:8080").metastudio_base_url
        == "http://127.0.0.1:8080"
    )


def test_mode_follows_the_app_token_unless_forced() -> None:
    assert settings(slack_app_token="xapp-1").use_socket_mode
    assert settings(slack_app_token="xapp-1", stoplive_mode="socket").use_socket_mode
    assert not settings(slack_app_token="xapp-1", stoplive_mode="HTTP").use_socket_mode
    assert "SLACK_APP_TOKEN: required when STOPLIVE_MODE=socket" in problems(stoplive_mode="socket")


def test_every_problem_is_named_in_one_message() -> None:
    text = problems(
        metastudio_project_id="",
        slack_bot_token="",
        stoplive_allowlist=None,
        metastudio_auth_token="tok",
    )
    for needle in (
        "METASTUDIO_PROJECT_ID: required",
        "SLACK_BOT_TOKEN: required",
        "STOPLIVE_ALLOWLIST: required",
        "choose one of AK/SK, fixed IAM token",
    ):
        assert needle in text
    assert (
        text.splitlines()[0] == "stoplive cannot start. Fix these settings (environment or .env):"
    )
    assert "SECRET" not in text and "tok" not in text.replace("token", "")


def test_a_setting_of_the_wrong_type_is_named_not_read() -> None:
    """A number where a token belongs (settings built in code, not from the environment) is a
    field problem; the cross-field checks, which read the raw values, must skip it, not
    crash on it."""
    text = problems(slack_bot_token=123, huaweicloud_sdk_sk=456, slack_signing_secret=None)
    assert "SLACK_BOT_TOKEN: Input should be a valid string" in text
    assert "HUAWEICLOUD_SDK_SK: Input should be a valid string" in text
    assert "SLACK_SIGNING_SECRET: required" in text


def test_field_problems_do_not_hide_cross_field_ones() -> None:
    """A bad URL (a field error) and a half-set AK/SK plus a broken allowlist (cross-field
    checks) are all named together."""
    text = problems(
        metastudio_endpoint="not a url",
        huaweicloud_sdk_sk=None,
        stoplive_allowlist='{"U024BE7LH": {"app_user_id": "a", "room": ["r1"]}}',
        stoplive_log_level="loud",
    )
    lines = text.splitlines()[1:]
    assert len(lines) == 4, text
    for needle in (
        "METASTUDIO_ENDPOINT: must be an http:// or https:// URL",
        "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK: set both",
        "STOPLIVE_ALLOWLIST, entry 'U024BE7LH': unknown key 'room'",
        "STOPLIVE_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
    ):
        assert needle in text


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"huaweicloud_sdk_sk": None}, "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK: set both"),
        ({"huaweicloud_sdk_ak": None, "huaweicloud_sdk_sk": None}, "MetaStudio auth: set"),
        (
            {
                "huaweicloud_sdk_ak": None,
                "huaweicloud_sdk_sk": None,
                "huaweicloud_iam_username": "u",
            },
            "HUAWEICLOUD_IAM_PASSWORD, HUAWEICLOUD_IAM_DOMAIN: required",
        ),
        (
            {
                "huaweicloud_sdk_ak": None,
                "huaweicloud_sdk_sk": None,
                "metastudio_auth_token": "t",
                "huaweicloud_sdk_security_token": "x",
            },
            "HUAWEICLOUD_SDK_SECURITY_TOKEN: only meaningful",
        ),
        ({"stoplive_allowlist_file": "/nope.yaml"}, "set one, not both"),
        ({"stoplive_allowlist": '{"U024BE7LH": "张三"}'}, "does not accept Chinese characters"),
        ({"stoplive_allowlist": '{"alice": "ops-alice"}'}, "key must be a Slack user ID"),
        ({"stoplive_allowlist": "[]"}, "must be an object like"),
        (
            {"stoplive_allowlist": '{"U024BE7LH": {"app_user_id": "a", "rooms": ["../x"]}}'},
            "room ID must be",
        ),
        (
            {"stoplive_allowlist": '{"U024BE7LH": {"app_user_id": "a", "rooms": [123, true]}}'},
            "rooms must hold room ID strings, not 123",
        ),
        ({"stoplive_allowlist": '{"U024BE7LH": "a", "U024BE7LH": "b"}'}, "appears twice"),
        ({"port": "http"}, "PORT: Input should be a valid integer"),
        ({"stoplive_confirm_ttl": 0}, "STOPLIVE_CONFIRM_TTL"),
        # placeholders and things that only look like values
        ({"slack_bot_token": "xoxb-"}, "SLACK_BOT_TOKEN: must be a bot token"),
        ({"slack_bot_token": "xoxp-123-456"}, "SLACK_BOT_TOKEN: must be a bot token"),
        ({"slack_bot_token": "xoxb-123 456"}, "SLACK_BOT_TOKEN: must be a bot token"),
        ({"slack_app_token": "xapp-"}, "SLACK_APP_TOKEN: must be an app-level token"),
        ({"slack_app_token": "xoxb-1-2"}, "SLACK_APP_TOKEN: must be an app-level token"),
        ({"slack_signing_secret": "sign-me"}, "SLACK_SIGNING_SECRET: must be the app's signing"),
        ({"slack_signing_secret": "abc"}, "SLACK_SIGNING_SECRET: must be the app's signing"),
        # URLs
        ({"metastudio_endpoint": "not a url"}, "METASTUDIO_ENDPOINT: must be an http"),
        ({"metastudio_endpoint": "https://"}, "METASTUDIO_ENDPOINT: must be an http"),
        ({"metastudio_endpoint": "http://h:99999"}, "METASTUDIO_ENDPOINT: must be an http"),
        ({"metastudio_endpoint": "http://h:port"}, "METASTUDIO_ENDPOINT: must be an http"),
        ({"metastudio_endpoint": "http://[::1"}, "METASTUDIO_ENDPOINT: must be an http"),
        ({"metastudio_endpoint": "https://u:p@h"}, "METASTUDIO_ENDPOINT: must be a plain"),
        ({"metastudio_endpoint": "https://h/?a=1"}, "METASTUDIO_ENDPOINT: must be a plain"),
        ({"metastudio_endpoint": "https://h/#x"}, "METASTUDIO_ENDPOINT: must be a plain"),
        ({"metastudio_endpoint": "https://h\n.x"}, "METASTUDIO_ENDPOINT: must be an http"),
        ({"metastudio_endpoint": "https://exa mple.com"}, "METASTUDIO_ENDPOINT: must be an http"),
        ({"slack_api_url": "ftp://slack.com/api/"}, "SLACK_API_URL: must be an http"),
        ({"huaweicloud_iam_endpoint": "iam.example.com"}, "HUAWEICLOUD_IAM_ENDPOINT: must be"),
        # IDs that go in a host name, a URL path, a header or a Slack call
        ({"metastudio_region": "cn north 4"}, "METASTUDIO_REGION: must be a region name"),
        ({"metastudio_region": "evil.com/x"}, "METASTUDIO_REGION: must be a region name"),
        ({"metastudio_project_id": "p1"}, "METASTUDIO_PROJECT_ID: must be 32 hex"),
        ({"metastudio_project_id": "../" + "0" * 29}, "METASTUDIO_PROJECT_ID: must be 32 hex"),
        ({"huaweicloud_sdk_ak": "AK\r\nX: y"}, "HUAWEICLOUD_SDK_AK: must be printable ASCII"),
        ({"huaweicloud_sdk_sk": "S K"}, "HUAWEICLOUD_SDK_SK: must be printable ASCII"),
        ({"stoplive_allowed_channels": "C1"}, "STOPLIVE_ALLOWED_CHANNELS: must be Slack channel"),
        (
            {"stoplive_allowed_channels": "C0OPS0001,"},
            "STOPLIVE_ALLOWED_CHANNELS: must be Slack channel",
        ),
        ({"stoplive_allowed_channels": "#ops"}, "STOPLIVE_ALLOWED_CHANNELS: must be Slack channel"),
        ({"stoplive_audit_channel": "#audit"}, "STOPLIVE_AUDIT_CHANNEL: must be a Slack channel"),
        ({"stoplive_contact": "x" * 201}, "STOPLIVE_CONTACT: must be one line"),
        ({"stoplive_contact": "a\nb"}, "STOPLIVE_CONTACT: must be one line"),
        ({"stoplive_contact": ""}, "STOPLIVE_CONTACT: must be one line"),
        ({"huaweicloud_iam_domain": "d\x00"}, "HUAWEICLOUD_IAM_DOMAIN: must be one line"),
        # new settings
        ({"stoplive_log_level": "LOUD"}, "STOPLIVE_LOG_LEVEL: Input should be"),
        ({"stoplive_log_level": "critical"}, "STOPLIVE_LOG_LEVEL: Input should be"),
        ({"stoplive_redis_url": "http://r:6379"}, "STOPLIVE_REDIS_URL: must be a redis://"),
        ({"stoplive_redis_url": "redis://"}, "STOPLIVE_REDIS_URL: must be a redis://"),
        ({"stoplive_redis_url": "unix://"}, "STOPLIVE_REDIS_URL: must be a redis://"),
        ({"stoplive_redis_url": "redis://h:x"}, "STOPLIVE_REDIS_URL: must be a redis://"),
        ({"stoplive_redis_url": "redis://h ost:6379"}, "STOPLIVE_REDIS_URL: must be a redis://"),
        ({"stoplive_redis_url": "redis://h\nx:6379"}, "STOPLIVE_REDIS_URL: must be a redis://"),
        (
            {"stoplive_redis_url": "redis://[::1"},
            "STOPLIVE_REDIS_URL: must be a redis://, rediss:// or unix:// URL, like "
            "rediss://:password@host:6379/0",
        ),
        (
            {"metastudio_project_id": "0" * 31 + "g"},
            "METASTUDIO_PROJECT_ID: must be 32 hex "
            "characters (Huawei Cloud console: My Credentials)",
        ),
        ({"stoplive_state_file": " "}, "STOPLIVE_STATE_FILE: must be a file path"),
        ({"stoplive_state_file": "a\x00b"}, "STOPLIVE_STATE_FILE: must be a file path"),
        ({"stoplive_watch_seconds": 3601}, "STOPLIVE_WATCH_SECONDS"),
        ({"stoplive_watch_seconds": -1}, "STOPLIVE_WATCH_SECONDS"),
        ({"stoplive_watch_seconds": "nan"}, "STOPLIVE_WATCH_SECONDS"),
        (
            {"stoplive_console_url": "https://c/{room}"},
            "STOPLIVE_CONSOLE_URL: must be a URL template using only {job_id}, {project_id}, "
            "{region}, {room_id}",
        ),
        (
            {"stoplive_console_url": "{region}"},
            "STOPLIVE_CONSOLE_URL: must be an http:// or https:// URL with a host, using only "
            "{job_id}, {project_id}, {region}, {room_id}",
        ),
        ({"metastudio_endpoint": "https://u:p@h"}, "must be a plain base URL: no user:password@"),
        ({"stoplive_console_url": "https://c/{0}"}, "STOPLIVE_CONSOLE_URL: must be a URL"),
        ({"stoplive_console_url": "https://c/{job_id!r}"}, "STOPLIVE_CONSOLE_URL: must be"),
        ({"stoplive_console_url": "https://c/{job_id:>9}"}, "STOPLIVE_CONSOLE_URL: must be"),
        ({"stoplive_console_url": "https://c/{job_id.x}"}, "STOPLIVE_CONSOLE_URL: must be"),
        ({"stoplive_console_url": "https://c/{"}, "STOPLIVE_CONSOLE_URL: must be a URL"),
        ({"stoplive_console_url": "javascript:{job_id}"}, "STOPLIVE_CONSOLE_URL: must be an"),
        ({"stoplive_console_url": "{region}"}, "STOPLIVE_CONSOLE_URL: must be an"),
    ],
)
def test_contradictions_and_bad_values(changes: dict[str, Any], needle: str) -> None:
    text = problems(**changes)
    assert needle in text
    assert "SK-SECRET" not in text and "SECRETBOT" not in text


@pytest.mark.parametrize(
    "changes",
    [
        {"slack_bot_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"},
        {"slack_app_token": "xapp-1-A0123-4567-abcdef"},
        {"slack_signing_secret": SECRET.upper()},
        {"metastudio_region": "ap-southeast-1"},
        {"metastudio_endpoint": "https://metastudio.example.com:8443/base/"},
        {"huaweicloud_iam_endpoint": "http://[::1]:5000"},
        {"stoplive_allowed_channels": " C0OPS0001 , G0PRIVATE1,D0DIRECT1 "},
        {"stoplive_allowed_channels": ""},
        {"stoplive_audit_channel": "C0AUDIT01"},
        {"stoplive_contact": "#ops-leads"},
        {"stoplive_log_level": "debug"},
        {"stoplive_redis_url": "rediss://:pa55@redis.example.com:6380/0"},
        {"stoplive_redis_url": "unix:///run/redis.sock"},
        {"stoplive_watch_seconds": 0},
        {
            "stoplive_console_url": "https://console.huaweicloud.com/metastudio/?region={region}"
            "#/{project_id}/rooms/{room_id}/jobs/{job_id}"
        },
        {"stoplive_console_url": "https://c.example/{{literal}}/{job_id}"},
        {"stoplive_console_url": "https://c.example/app#/{room_id}#{job_id}"},
        {"stoplive_console_url": "https://c.example/app?r={region}?{job_id}"},
    ],
)
def test_real_values_pass(changes: dict[str, Any]) -> None:
    settings(**changes)


def test_log_level_is_any_case_and_allowed_channels_are_parsed() -> None:
    s = settings(stoplive_log_level="warning", stoplive_allowed_channels="C0OPS0001, C0OPS0002")
    assert s.stoplive_log_level == "WARNING"
    assert s.allowed_channels == {"C0OPS0001", "C0OPS0002"}
    assert settings(stoplive_allowed_channels="").allowed_channels == frozenset()


def test_token_and_iam_modes() -> None:
    token = settings(huaweicloud_sdk_ak=None, huaweicloud_sdk_sk=None, metastudio_auth_token="t")
    assert token.auth_mode is AuthMode.TOKEN and isinstance(metastudio_auth(token), TokenAuth)
    iam = settings(
        huaweicloud_sdk_ak=None,
        huaweicloud_sdk_sk=None,
        huaweicloud_iam_username="u",
        huaweicloud_iam_password="p",
        huaweicloud_iam_domain="d",
    )
    assert iam.auth_mode is AuthMode.IAM_PASSWORD and isinstance(
        metastudio_auth(iam), IamPasswordAuth
    )


def test_secrets_do_not_show_in_repr() -> None:
    s = settings(stoplive_redis_url="redis://:REDIS-SECRET@h:6379/0")
    shown = repr(s) + str(s.model_dump())
    for secret in ("SK-SECRET", SECRET, "SECRETBOT", "REDIS-SECRET"):
        assert secret not in shown


def test_allowlist_file_json_or_yaml(tmp_path: Path) -> None:
    as_json = tmp_path / "a.json"
    as_json.write_text('{"U024BE7LH": "ops-alice"}')
    as_yaml = tmp_path / "a.yaml"
    as_yaml.write_text("U024BE7LH:\n  app_user_id: ops-alice\n  rooms: [room-1]\n")
    alice = settings(stoplive_allowlist=None, stoplive_allowlist_file=str(as_json))
    assert alice.allowlist.grant_for("U024BE7LH") is not None
    grant = settings(
        stoplive_allowlist=None, stoplive_allowlist_file=str(as_yaml)
    ).allowlist.grant_for("U024BE7LH")
    assert grant is not None and grant.covers("room-1") and not grant.covers("room-2")
    assert "cannot read it" in problems(
        stoplive_allowlist=None, stoplive_allowlist_file=str(tmp_path / "x")
    )


def test_a_non_utf8_allowlist_file_is_named_with_every_other_problem(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"U024BE7LH: ops-\xe9lice\n")
    text = problems(stoplive_allowlist=None, stoplive_allowlist_file=str(path), port="x")
    assert f"STOPLIVE_ALLOWLIST_FILE ('{path}'): not UTF-8 text (byte 0xe9 at offset 15)" in text
    assert "PORT: Input should be a valid integer" in text


def test_environment_names_are_the_public_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "METASTUDIO_PROJECT_ID": PROJECT,
        "METASTUDIO_REGION": "cn-east-3",
        "HUAWEICLOUD_SDK_AK": "A",
        "HUAWEICLOUD_SDK_SK": "S",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": "T",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": SECRET,
        "STOPLIVE_ALLOWLIST": '{"U024BE7LH": "a"}',
        "PORT": "8080",
        "STOPLIVE_ALLOWED_CHANNELS": "C0OPS0001, C0OPS0002",
        "STOPLIVE_AUDIT_CHANNEL": "C0AUDIT01",
        "STOPLIVE_LOG_LEVEL": "debug",
        "STOPLIVE_STATE_FILE": "/var/lib/stoplive.db",
        "STOPLIVE_WATCH_SECONDS": "60",
        "STOPLIVE_CONSOLE_URL": "https://c.example/{job_id}",
        "STOPLIVE_CONTACT": "",  # empty means unset, as `NAME=` in .env.example
    }.items():
        monkeypatch.setenv(name, value)
    s = load_settings(_env_file=None)
    assert (s.metastudio_project_id, s.port, s.stoplive_audit_channel) == (
        PROJECT,
        8080,
        "C0AUDIT01",
    )
    assert s.allowed_channels == {"C0OPS0001", "C0OPS0002"}
    assert s.huaweicloud_sdk_security_token is not None
    assert (s.stoplive_log_level, s.stoplive_state_file, s.stoplive_watch_seconds) == (
        "DEBUG",
        "/var/lib/stoplive.db",
        60.0,
    )
    assert s.stoplive_console_url == "https://c.example/{job_id}"
    assert s.stoplive_contact == "your on-call lead"


def test_redis_url_falls_back_to_heroku_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "rediss://:p@heroku.example:6380")
    s = settings()
    assert s.stoplive_redis_url is not None
    assert s.stoplive_redis_url.get_secret_value() == "rediss://:p@heroku.example:6380"
    monkeypatch.setenv("STOPLIVE_REDIS_URL", "redis://mine:6379/1")
    s = settings()
    assert s.stoplive_redis_url is not None
    assert s.stoplive_redis_url.get_secret_value() == "redis://mine:6379/1"


def test_the_env_file_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty directory of the test's own, never a checkout
    (tmp_path / ".env").write_bytes(b"STOPLIVE_CONTACT=\xff\n")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "  - .env: not UTF-8 text (byte offset 17)" in str(raised.value).splitlines()


def test_allowlist_source_messages() -> None:
    both = problems(stoplive_allowlist_file="/x.yaml")
    assert "  - STOPLIVE_ALLOWLIST and STOPLIVE_ALLOWLIST_FILE: set one, not both" in (
        both.splitlines()
    )
    neither = problems(stoplive_allowlist=None)
    assert (
        '  - STOPLIVE_ALLOWLIST: required (JSON like {"U024BE7LH": "ops-alice"}), '
        "or STOPLIVE_ALLOWLIST_FILE"
    ) in neither.splitlines()
    socket = problems(stoplive_mode="socket")
    assert "  - SLACK_APP_TOKEN: required when STOPLIVE_MODE=socket (an xapp- token)" in (
        socket.splitlines()
    )


def test_the_env_file_is_read_and_an_unreadable_one_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / "dot.env"
    env_file.write_text("STOPLIVE_LOG_LEVEL=error\nMETASTUDIO_ENDPOINT=\n")
    s = settings(_env_file=str(env_file))
    assert s.stoplive_log_level == "ERROR" and s.metastudio_endpoint is None
    env_file.write_bytes(b"STOPLIVE_CONTACT=\xff\n")
    with pytest.raises(ConfigError, match=r"dot\.env: not UTF-8 text"):
        settings(_env_file=str(env_file))


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc")
def test_an_env_file_that_cannot_be_read_is_named_not_a_traceback() -> None:
    """Reading /proc/self/mem from its start fails with EIO even for root (CI runs as root, so
    a mode-000 file would not do): both readers of .env, the misspelt-name check and the
    settings, must turn that into the one-line refusal."""
    assert "/proc/self/mem: cannot read it (Input/output error)" in problems(
        _env_file="/proc/self/mem"
    )


def test_no_test_sees_the_developers_environment() -> None:
    """The autouse fixture in conftest removes outside settings for every test."""
    leaked = [
        name
        for name in os.environ
        if name.startswith(("SLACK_", "STOPLIVE_", "METASTUDIO_", "HUAWEICLOUD_"))
        or name in ("REDIS_URL", "PORT")
    ]
    assert leaked == []


# --- as a process: `python -m bot` refuses in one message, fast, without a traceback --------


def process_env(values: dict[str, Any]) -> dict[str, str]:
    """Only what the process needs: no inherited SLACK_*/STOPLIVE_* and no ./.env."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)}
    env.update({k.upper(): str(v) for k, v in values.items() if not k.startswith("_")})
    return env


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def refused(values: dict[str, Any], cwd: Path) -> str:
    began = time.monotonic()
    process = await start(process_env(values), cwd)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    text = err.decode()
    assert process.returncode == 1, text
    assert time.monotonic() - began < 15
    assert "Traceback" not in text and text.startswith("stoplive cannot start.")
    assert "SK-SECRET" not in text and "SECRETBOT" not in text
    return text


async def test_process_refuses_the_issue_list_at_once(tmp_path: Path) -> None:
    bomb = tmp_path / "allowlist.yaml"
    # the 419-byte billion-laughs shape from the issue: nested aliases
    bomb.write_text(
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n"
            for i in range(8)
        )
    )
    values = {
        **BASE,
        "stoplive_allowlist": None,
        "stoplive_allowlist_file": str(bomb),
        "slack_bot_token": "xoxb-",
        "slack_app_token": "xapp-",
        "stoplive_log_level": "bogus",
        "metastudio_endpoint": "not a url",
        "slack_api_url": "ftp://files.example/api/",
    }
    text = await refused({k: v for k, v in values.items() if v is not None}, tmp_path)
    for needle in (
        "anchors and aliases are not allowed",
        "SLACK_BOT_TOKEN: must be a bot token",
        "SLACK_APP_TOKEN: must be an app-level token",
        "STOPLIVE_LOG_LEVEL: Input should be",
        "METASTUDIO_ENDPOINT: must be an http",
        "SLACK_API_URL: must be an http",
    ):
        assert needle in text


async def test_process_reads_and_checks_the_log_level_in_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STOPLIVE_LOG_LEVEL=verbose\n")
    text = await refused(BASE, tmp_path)
    assert "STOPLIVE_LOG_LEVEL: Input should be" in text.splitlines()[1]
    (tmp_path / ".env").write_bytes(b"SLACK_BOT_TOKEN=\xff\n")
    assert ".env: not UTF-8 text" in await refused(BASE, tmp_path)


async def test_process_reloads_the_allowlist_file_on_sighup(
    tmp_path: Path, metastudio: MetaStudioStandIn, slack: SlackStandIn
) -> None:
    allowlist = tmp_path / "allowlist.json"
    allowlist.write_text('{"U024BE7LH": "ops-alice", "U0G9QF9C6": "ops-bob"}')
    values = bot_settings(
        metastudio,
        slack,
        stoplive_allowlist=None,
        stoplive_allowlist_file=str(allowlist),
        stoplive_log_level="info",
    )
    process = await start(process_env({k: v for k, v in values.items() if v is not None}), tmp_path)
    assert process.stderr is not None
    try:
        await asyncio.wait_for(_line_with(process.stderr, "listening"), 20)
        allowlist.write_text('{"U024BE7LH": {"app_user_id": "ops-alice", "room": ["r1"]}}')
        process.send_signal(signal.SIGHUP)
        warning = await asyncio.wait_for(_line_with(process.stderr, "may not stop until"), 20)
        assert "WARNING" in warning and "unknown key 'room'" in warning
        assert str(allowlist) in warning and "0 users" in warning and "was 2" in warning
        allowlist.write_text('{"U024BE7LH": "ops-alice"}')
        process.send_signal(signal.SIGHUP)
        info = await asyncio.wait_for(_line_with(process.stderr, "allowlist reloaded"), 20)
        assert "INFO" in info and "1 users" in info and "was 0" in info
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 20)


async def _line_with(stream: asyncio.StreamReader, needle: str) -> str:
    while line := (await stream.readline()).decode():
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r}")


def test_the_example_env_file_is_refused_until_filled_in() -> None:
    """.env.example's placeholders (xoxb-, xapp-, empty values) name themselves."""
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=str(REPO / ".env.example"))
    assert str(raised.value).splitlines()[1:] == [
        "  - SLACK_BOT_TOKEN: must be a bot token: xoxb- followed by the rest of it",
        "  - SLACK_APP_TOKEN: must be an app-level token: xapp- followed by the rest of it",
        "  - METASTUDIO_PROJECT_ID: required",
        "  - SLACK_SIGNING_SECRET: required",
        "  - MetaStudio auth: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or "
        "METASTUDIO_AUTH_TOKEN, or HUAWEICLOUD_IAM_USERNAME/PASSWORD/DOMAIN",
    ]


# --- names no setting reads --------------------------------------------------------------


@pytest.mark.parametrize("name", ["STOPLIVE_ALLOWED_CHANNEL", "stoplive_allowed_channel"])
def test_a_misspelt_setting_refuses_start_up_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Ignored, ``STOPLIVE_ALLOWED_CHANNEL`` (no S) would let /stoplive work everywhere."""
    monkeypatch.setenv(name, "C0OPS0001")
    text = problems(port="x")  # named with every other problem, never with its value
    assert (
        "  - STOPLIVE_ALLOWED_CHANNEL: not a stoplive setting (did you mean "
        "STOPLIVE_ALLOWED_CHANNELS?); remove or rename it"
    ) in text.splitlines()
    assert "PORT: Input should be a valid integer" in text and "C0OPS0001" not in text


SERVICE_LINKS = {  # what Kubernetes sets for a Service named stoplive-redis (and one "stoplive")
    "STOPLIVE_REDIS_SERVICE_HOST": "10.0.0.7",
    "STOPLIVE_REDIS_SERVICE_PORT": "6379",
    "STOPLIVE_REDIS_SERVICE_PORT_REDIS": "6379",
    "STOPLIVE_REDIS_PORT": "tcp://10.0.0.7:6379",
    "STOPLIVE_REDIS_PORT_6379_TCP": "tcp://10.0.0.7:6379",
    "STOPLIVE_REDIS_PORT_6379_TCP_PROTO": "tcp",
    "STOPLIVE_REDIS_PORT_6379_TCP_PORT": "6379",
    "STOPLIVE_REDIS_PORT_6379_TCP_ADDR": "10.0.0.7",
    "STOPLIVE_PORT": "tcp://10.0.0.8:80",
}


def test_kubernetes_service_links_are_not_typos_in_kubernetes_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pod gets variables named after each Service: refusing them would stop every pod from
    starting. Outside Kubernetes the same names are refused like any unknown name, and in
    Kubernetes a real typo still is."""
    for name, value in SERVICE_LINKS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STOPLIVE_ALLOWED_CHANNEL", "C0OPS0001")
    outside = problems()
    assert all(f"  - {name}: not a stoplive setting" in outside for name in SERVICE_LINKS)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    inside = problems()
    assert not any(name in inside for name in SERVICE_LINKS)
    assert "  - STOPLIVE_ALLOWED_CHANNEL: not a stoplive setting" in inside


def test_a_misspelt_setting_in_the_env_file_refuses_start_up(tmp_path: Path) -> None:
    env_file = tmp_path / "dot.env"
    env_file.write_text("STOPLIVE_CONFIRM_TLL=60\nSTOPLIVE_XYZZY=1\nOTHER_TOOL_SETTING=1\n")
    lines = problems(_env_file=str(env_file)).splitlines()
    assert (
        "  - STOPLIVE_CONFIRM_TLL: not a stoplive setting (did you mean STOPLIVE_CONFIRM_TTL?); "
        "remove or rename it"
    ) in lines
    [far] = [line for line in lines if "STOPLIVE_XYZZY" in line]
    assert "known: STOPLIVE_ALLOWED_CHANNELS, STOPLIVE_ALLOWLIST," in far
    assert not any("OTHER_TOOL_SETTING" in line for line in lines)  # not ours to judge


def test_the_known_names_come_from_the_settings_model() -> None:
    """A setting added to the model is known at once (its name and its aliases)."""

    class Extended(Settings):
        stoplive_serve_health: bool = False

    class Prefixed(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "env_prefix": "app_"})

    fields = {name.upper() for name in Settings.model_fields}
    assert known_names(Settings) == fields | {"REDIS_URL"}
    assert known_names(Extended) == fields | {"REDIS_URL", "STOPLIVE_SERVE_HEALTH"}
    # a prefix applies to field names, not to aliases (as pydantic-settings reads them)
    assert known_names(Prefixed) == {f"APP_{name}" for name in fields} | {
        "STOPLIVE_REDIS_URL",
        "REDIS_URL",
    }


def test_the_closest_name_is_found_on_what_follows_the_prefix(tmp_path: Path) -> None:
    env_file = tmp_path / "dot.env"
    env_file.write_text("STOPLIVE_MOD=http\n")
    assert (
        "  - STOPLIVE_MOD: not a stoplive setting (did you mean STOPLIVE_MODE?); remove or rename it"
    ) in problems(_env_file=str(env_file)).splitlines()


def test_an_env_file_that_is_a_directory_is_passed_over_as_pydantic_settings_does(
    tmp_path: Path,
) -> None:
    assert settings(_env_file=str(tmp_path)).port == 3000


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        (
            {"stoplive_notify_channel": "general"},
            "STOPLIVE_NOTIFY_CHANNEL: must be a Slack channel ID",
        ),
        ({"stoplive_notify_channel": "C0ONCALL1\n"}, "STOPLIVE_NOTIFY_CHANNEL: must be"),
        ({"stoplive_notify_seconds": "5"}, "STOPLIVE_NOTIFY_SECONDS: Input should be greater"),
        ({"stoplive_long_live_hours": "0"}, "STOPLIVE_LONG_LIVE_HOURS: Input should be greater"),
        ({"stoplive_long_live_hours": "-2.5"}, "STOPLIVE_LONG_LIVE_HOURS: Input should be greater"),
        ({"stoplive_long_live_hours": "ten"}, "STOPLIVE_LONG_LIVE_HOURS: Input should be a valid"),
        ({"stoplive_long_live_hours": "nan"}, "STOPLIVE_LONG_LIVE_HOURS:"),
        ({"stoplive_notify_ends": "errors,all"}, "STOPLIVE_NOTIFY_ENDS: Input should be 'errors'"),
        ({"stoplive_notify_starts": "maybe"}, "STOPLIVE_NOTIFY_STARTS: Input should be a valid"),
    ],
)
def test_the_stream_watch_settings_refuse_what_cannot_be_right(
    changes: dict[str, str], said: str
) -> None:
    text = problems(**changes)
    assert said in text and len(text.splitlines()) == 2  # one line, naming the variable


def test_the_stream_watch_is_off_unless_a_channel_is_named() -> None:
    off = settings()
    assert off.stoplive_notify_channel is None and notify_rules(off) is None
    on = settings(
        stoplive_notify_channel="C0ONCALL1",
        stoplive_notify_ends="ALL",
        stoplive_long_live_hours="1.5",
        stoplive_notify_starts="true",
    )
    rules = notify_rules(on)
    assert rules is not None
    assert (rules.channel_id, rules.every, rules.ends, rules.long_live_hours, rules.starts) == (
        "C0ONCALL1",
        60.0,
        "all",
        1.5,
        True,
    )
