"""Settings: every problem named at once, secrets never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import metastudio_auth
from bot.config import AuthMode, ConfigError, load_settings
from bot.metastudio.auth import AkSkAuth, IamPasswordAuth, TokenAuth

BASE: dict[str, Any] = {
    "_env_file": None,
    "metastudio_project_id": "p1",
    "slack_bot_token": "xoxb-1",
    "slack_signing_secret": "sign-SECRET",
    "stoplive_allowlist": '{"U024BE7LH": "ops-alice"}',
    "huaweicloud_sdk_ak": "AK",
    "huaweicloud_sdk_sk": "SK-SECRET",
}


def settings(**changes: Any) -> Any:
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
    assert settings(metastudio_region="cn-east-3").metastudio_base_url.endswith(
        "cn-east-3.myhuaweicloud.com"
    )
    assert (
        settings(metastudio_endpoint="http://127.0.0.1:8080").metastudio_base_url
        == "http://127.0.0.1:8080"
    )


def test_mode_follows_the_app_token_unless_forced() -> None:
    assert settings(slack_app_token="xapp-1").use_socket_mode
    assert not settings(slack_app_token="xapp-1", stoplive_mode="http").use_socket_mode
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
    assert "SECRET" not in text and "tok" not in text.replace("token", "")


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
        ({"stoplive_allowlist": "[]"}, "must be a non-empty object"),
        (
            {"stoplive_allowlist": '{"U024BE7LH": {"app_user_id": "a", "rooms": ["../x"]}}'},
            "room ID must be",
        ),
        ({"port": "http"}, "PORT: Input should be a valid integer"),
        ({"stoplive_confirm_ttl": 0}, "STOPLIVE_CONFIRM_TTL"),
    ],
)
def test_contradictions_and_bad_values(changes: dict[str, Any], needle: str) -> None:
    assert needle in problems(**changes)


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
    shown = repr(settings()) + str(settings().model_dump())
    assert "SK-SECRET" not in shown and "sign-SECRET" not in shown


def test_allowlist_file_json_or_yaml(tmp_path: Path) -> None:
    as_json = tmp_path / "a.json"
    as_json.write_text('{"U024BE7LH": "ops-alice"}')
    as_yaml = tmp_path / "a.yaml"
    as_yaml.write_text("U024BE7LH:\n  app_user_id: ops-alice\n  rooms: [room-1]\n")
    assert (
        settings(stoplive_allowlist=None, stoplive_allowlist_file=str(as_json))
        .allowlist.grant_for("U024BE7LH")
        .app_user_id
        == "ops-alice"
    )  # type: ignore[union-attr]
    grant = settings(
        stoplive_allowlist=None, stoplive_allowlist_file=str(as_yaml)
    ).allowlist.grant_for("U024BE7LH")
    assert grant is not None and grant.covers("room-1") and not grant.covers("room-2")
    assert "cannot read it" in problems(
        stoplive_allowlist=None, stoplive_allowlist_file=str(tmp_path / "x")
    )


def test_environment_names_are_the_public_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "METASTUDIO_PROJECT_ID": "p9",
        "METASTUDIO_REGION": "cn-east-3",
        "HUAWEICLOUD_SDK_AK": "A",
        "HUAWEICLOUD_SDK_SK": "S",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": "T",
        "SLACK_BOT_TOKEN": "xoxb",
        "SLACK_SIGNING_SECRET": "s",
        "STOPLIVE_ALLOWLIST": '{"U024BE7LH": "a"}',
        "PORT": "8080",
        "STOPLIVE_ALLOWED_CHANNELS": "C1, C2",
        "STOPLIVE_AUDIT_CHANNEL": "C3",
    }.items():
        monkeypatch.setenv(name, value)
    s = load_settings(_env_file=None)
    assert (s.metastudio_project_id, s.port, s.stoplive_audit_channel) == ("p9", 8080, "C3")
    assert s.allowed_channels == {"C1", "C2"} and s.huaweicloud_sdk_security_token is not None
