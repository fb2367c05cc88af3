"""Every setting stoplive reads, in one place, each checked before anything starts.

Each field's name *is* its environment variable (upper-cased); an optional ``.env`` file in
the working directory is read too, and an empty value counts as unset. This class is the
documentation: the README's table is written from it, and ``tests/test_docs.py`` holds the
table to it (every name read, no other, and each default stated). Secrets are ``SecretStr``
so that no log line or repr can show them.

Start-up refuses what is wrong rather than guessing: a value that cannot be right (a
placeholder token, a URL that is not one, an ID that would change a URL path) is named, with
every other problem, in one message, and no message ever shows a value.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.setting_names import known_names, unknown_names
from bot.settings_checks import (
    _ONE_LINE,
    _console_url,
    _http_url,
    _lenient,
    _matching,
    _redis_url,
    field_problems,
)
from bot.stopflow.allowlist import Allowlist, AllowlistError
from bot.stopflow.allowlist_file import LiveAllowlist

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

_PROJECT_ID = re.compile(r"[0-9a-fA-F]{32}")
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+){1,3}")
_BOT_TOKEN = re.compile(r"xoxb-[A-Za-z0-9][A-Za-z0-9-]{0,500}")
_APP_TOKEN = re.compile(r"xapp-[A-Za-z0-9][A-Za-z0-9-]{0,500}")
_SIGNING_SECRET = re.compile(r"[0-9a-fA-F]{16,128}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,20}")
# Values that end up in an HTTP header (or are signed as one): printable ASCII, no spaces,
# so a stray newline or a pasted space is named at start-up instead of failing every call.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,16384}")

# Where Slack's response URLs point. A signed payload naming any other host is refused: the bot
# POSTs its replies there, so a crafted one would make it post elsewhere.
SLACK_RESPONSE_HOSTS = frozenset({"hooks.slack.com"})


class AuthMode(StrEnum):
    AKSK = "AK/SK"
    TOKEN = "fixed IAM token"
    IAM_PASSWORD = "IAM password"


class ConfigError(Exception):
    """Start-up cannot go on. The message names every problem and the variable to set."""


def _missing(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return not (value or "").strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `NAME=` in .env (as .env.example has it) means unset
        extra="ignore",
        case_sensitive=False,
    )

    # --- MetaStudio -------------------------------------------------------------------------
    metastudio_project_id: str = Field(
        "",
        description="Huawei Cloud project ID of the region, 32 hex characters (required)",
    )
    metastudio_region: str = Field(
        "cn-north-4", description="Region of the MetaStudio endpoint, like cn-north-4"
    )
    metastudio_endpoint: str | None = Field(
        None,
        description="http(s) base URL overriding the region's, e.g. http://127.0.0.1:8080",
    )
    metastudio_timeout: float = Field(8.0, gt=0, le=60, description="Seconds per MetaStudio call")

    # AK/SK (the names Huawei's own SDK reads)
    huaweicloud_sdk_ak: SecretStr | None = Field(
        None, description="Access key ID (AK/SK auth, with HUAWEICLOUD_SDK_SK)"
    )
    huaweicloud_sdk_sk: SecretStr | None = Field(None, description="Secret access key (AK/SK auth)")
    huaweicloud_sdk_security_token: SecretStr | None = Field(
        None, description="Security token of temporary AK/SK credentials"
    )
    # ... or a fixed token ...
    metastudio_auth_token: SecretStr | None = Field(
        None, description="A fixed IAM token (X-Auth-Token); expires within 24 hours"
    )
    # ... or IAM password auth
    huaweicloud_iam_username: str | None = Field(
        None, description="IAM user name (IAM password auth: the bot fetches and renews tokens)"
    )
    huaweicloud_iam_password: SecretStr | None = Field(None, description="IAM user's password")
    huaweicloud_iam_domain: str | None = Field(None, description="IAM account (domain) name")
    huaweicloud_iam_endpoint: str | None = Field(
        None, description="http(s) base URL of IAM, overriding the region's"
    )

    # --- Slack ------------------------------------------------------------------------------
    slack_bot_token: SecretStr = Field(SecretStr(""), description="Bot token, xoxb-... (required)")
    slack_signing_secret: SecretStr = Field(
        SecretStr(""), description="Signing secret of the Slack app, hex (required)"
    )
    slack_app_token: SecretStr | None = Field(
        None, description="App-level token, xapp-... (Socket Mode)"
    )
    slack_api_url: str = Field(
        DEFAULT_SLACK_API_URL, description="http(s) base URL of the Slack Web API"
    )
    stoplive_mode: Literal["socket", "http"] | None = Field(
        None, description="socket or http; default: socket if SLACK_APP_TOKEN is set"
    )
    port: int = Field(
        3000,
        ge=0,
        le=65535,
        description="Port to listen on (0: any free one); Socket Mode: /healthz and /metrics",
    )
    stoplive_host: str = Field("0.0.0.0", description="Address to listen on")
    stoplive_socket_health: bool = Field(
        True,
        description="Socket Mode: serve /healthz and /metrics on PORT (false: open no port)",
    )

    # --- Who may stop what, and where -------------------------------------------------------
    stoplive_allowlist: str | None = Field(None, description='JSON: {"U024BE7LH": "ops-alice"}')
    stoplive_allowlist_file: str | None = Field(
        None, description="JSON or YAML file, same shape; re-read when it changes or on SIGHUP"
    )
    stoplive_confirm_ttl: int = Field(
        300, ge=1, le=3600, description="Seconds a confirmation lives"
    )
    stoplive_contact: str = Field(
        "your on-call lead",
        description="Whom a refused user should ask for access (one line, at most 200 characters)",
    )
    stoplive_allowed_channels: str | None = Field(
        None, description="Comma-separated channel IDs where /stoplive may be used (default: any)"
    )
    stoplive_audit_channel: str | None = Field(
        None, description="Channel ID that gets a copy of every outcome"
    )
    stoplive_stop_all_approval: Literal["one-person", "two-person"] = Field(
        "one-person",
        description=(
            "/stoplive all: one-person (the requester confirms) or two-person (a second person "
            "with the stop-all grant approves too)"
        ),
    )
    stoplive_verify_seconds: float = Field(
        30.0, ge=0, le=300, description="How long to watch a stopped job until it has ended"
    )
    stoplive_watch_seconds: float = Field(
        600.0,
        ge=0,
        le=3600,
        description="How long a job still live after a stop keeps being watched (0 to 3600 s)",
    )

    # --- Running it -------------------------------------------------------------------------
    stoplive_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR (any case)"
    )
    stoplive_redis_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("stoplive_redis_url", "redis_url"),
        description=(
            "redis://, rediss:// or unix:// URL of a Redis shared by every replica "
            "(claims and the stop journal); REDIS_URL is read too. Default: STOPLIVE_STATE_FILE"
        ),
    )
    stoplive_state_file: str = Field(
        "stoplive-state.db",
        description="SQLite file of the stop journal when there is no Redis (one replica only)",
    )
    stoplive_notify_channel: str | None = Field(
        None,
        description="Channel ID where the stream watch posts (streams ending, long lives); unset: off",
    )
    stoplive_notify_seconds: float = Field(
        60.0,
        ge=10,
        le=3600,
        description="Seconds between two polls of the stream watch (10 to 3600)",
    )
    stoplive_notify_ends: Literal["errors", "all"] = Field(
        "errors",
        description="errors: a stream ending FAILED or BLOCKED is told; all: every end is",
    )
    stoplive_notify_starts: bool = Field(
        False, description="true: the stream watch also tells of a stream going live"
    )
    stoplive_long_live_hours: float | None = Field(
        None,
        gt=0,
        le=8760,
        description="Decimal hours after which a live stream is told once, with a Stop… button",
    )
    stoplive_console_url: str | None = Field(
        None,
        description=(
            "Link to the job in the console, a template with {region}, {project_id}, "
            "{room_id} and {job_id}"
        ),
    )

    _allowlist: LiveAllowlist | None = None

    _check_project_id = field_validator("metastudio_project_id")(
        _matching(_PROJECT_ID, "32 hex characters (Huawei Cloud console: My Credentials)")
    )
    _check_region = field_validator("metastudio_region")(
        _matching(_REGION, "a region name like cn-north-4")
    )
    _check_urls = field_validator(
        "metastudio_endpoint", "huaweicloud_iam_endpoint", "slack_api_url"
    )(_http_url)
    _check_header_values = field_validator(
        "huaweicloud_sdk_ak",
        "huaweicloud_sdk_sk",
        "huaweicloud_sdk_security_token",
        "metastudio_auth_token",
    )(_matching(_HEADER_SAFE, "printable ASCII without spaces"))
    _check_iam_names = field_validator("huaweicloud_iam_username", "huaweicloud_iam_domain")(
        _matching(_ONE_LINE, "one line of at most 200 characters")
    )
    _check_contact = field_validator("stoplive_contact", "stoplive_host")(
        _matching(_ONE_LINE, "one line of at most 200 characters", empty_ok=False)
    )
    _check_bot_token = field_validator("slack_bot_token")(
        _matching(_BOT_TOKEN, "a bot token: xoxb- followed by the rest of it")
    )
    _check_app_token = field_validator("slack_app_token")(
        _matching(_APP_TOKEN, "an app-level token: xapp- followed by the rest of it")
    )
    _check_signing_secret = field_validator("slack_signing_secret")(
        _matching(_SIGNING_SECRET, "the app's signing secret: hex characters")
    )
    _check_audit_channel = field_validator("stoplive_audit_channel", "stoplive_notify_channel")(
        _matching(_CHANNEL_ID, "a Slack channel ID like C0123ABCD")
    )
    _check_redis_url = field_validator("stoplive_redis_url")(_redis_url)
    _check_console_url = field_validator("stoplive_console_url")(_console_url)

    @field_validator("stoplive_allowed_channels")
    @classmethod
    def _check_allowed_channels(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = [part.strip() for part in value.split(",")]
        if not all(_CHANNEL_ID.fullmatch(part) for part in parts):
            raise ValueError("must be Slack channel IDs like C0123ABCD, separated by commas")
        return value

    @field_validator("stoplive_state_file")
    @classmethod
    def _check_state_file(cls, value: str) -> str:
        if not value.strip() or "\x00" in value or len(value) > 4096:
            raise ValueError("must be a file path")
        return value

    @field_validator(
        "stoplive_log_level",
        "stoplive_mode",
        "stoplive_notify_ends",
        "stoplive_stop_all_approval",
        mode="before",
    )
    @classmethod
    def _any_case(cls, value: object, info: Any) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "stoplive_log_level" else value.lower()

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Settings:
        """Field problems and cross-field problems (auth, allowlist) in one message: an after
        validator would not run once a field had failed, hiding the rest."""
        problems: list[str] = []
        settings: Settings | None = None
        try:
            settings = handler(data)
        except ValidationError as exc:
            problems.extend(field_problems(exc))
        probe = settings or _lenient(cls, data)
        if probe is not None:
            problems.extend(probe._cross_field_problems())
        if problems:
            raise ValueError("\n".join(problems))
        assert settings is not None
        return settings

    def _cross_field_problems(self) -> list[str]:
        problems: list[str] = []
        for name in ("metastudio_project_id", "slack_bot_token", "slack_signing_secret"):
            if _missing(getattr(self, name)):
                problems.append(f"{name.upper()}: required")
        try:
            self.auth_mode  # noqa: B018 - evaluated for its complaints
        except ConfigError as exc:
            problems.append(str(exc))
        if self.stoplive_mode == "socket" and _missing(self.slack_app_token):
            problems.append("SLACK_APP_TOKEN: required when STOPLIVE_MODE=socket (an xapp- token)")
        try:
            self._allowlist = self._load_allowlist()
        except AllowlistError as exc:
            problems.extend(exc.problems)
        return problems

    @property
    def auth_mode(self) -> AuthMode:
        """The one MetaStudio authentication configured; ConfigError if none or several."""
        aksk = not _missing(self.huaweicloud_sdk_ak) or not _missing(self.huaweicloud_sdk_sk)
        token = not _missing(self.metastudio_auth_token)
        iam_fields = {
            "HUAWEICLOUD_IAM_USERNAME": self.huaweicloud_iam_username,
            "HUAWEICLOUD_IAM_PASSWORD": self.huaweicloud_iam_password,
            "HUAWEICLOUD_IAM_DOMAIN": self.huaweicloud_iam_domain,
        }
        iam = any(not _missing(v) for v in iam_fields.values())
        chosen = [
            mode
            for mode, on in (
                (AuthMode.AKSK, aksk),
                (AuthMode.TOKEN, token),
                (AuthMode.IAM_PASSWORD, iam),
            )
            if on
        ]
        if not chosen:
            raise ConfigError(
                "MetaStudio auth: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or "
                "METASTUDIO_AUTH_TOKEN, or HUAWEICLOUD_IAM_USERNAME/PASSWORD/DOMAIN"
            )
        if len(chosen) > 1:
            raise ConfigError(
                "MetaStudio auth: choose one of "
                + ", ".join(m.value for m in chosen)
                + " (unset the others)"
            )
        if aksk and (_missing(self.huaweicloud_sdk_ak) or _missing(self.huaweicloud_sdk_sk)):
            raise ConfigError("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK: set both, or neither")
        if iam and (missing := [n for n, v in iam_fields.items() if _missing(v)]):
            raise ConfigError(", ".join(missing) + ": required for IAM password auth")
        if not aksk and not _missing(self.huaweicloud_sdk_security_token):
            raise ConfigError(
                "HUAWEICLOUD_SDK_SECURITY_TOKEN: only meaningful with HUAWEICLOUD_SDK_AK/SK"
            )
        return chosen[0]

    def _load_allowlist(self) -> LiveAllowlist:
        if self.stoplive_allowlist and self.stoplive_allowlist_file:
            raise AllowlistError(
                ["STOPLIVE_ALLOWLIST and STOPLIVE_ALLOWLIST_FILE: set one, not both"]
            )
        if self.stoplive_allowlist_file:
            return LiveAllowlist.from_file(self.stoplive_allowlist_file)
        if self.stoplive_allowlist:
            return LiveAllowlist(
                Allowlist.from_text(self.stoplive_allowlist, source="STOPLIVE_ALLOWLIST")
            )
        raise AllowlistError(
            [
                'STOPLIVE_ALLOWLIST: required (JSON like {"U024BE7LH": "ops-alice"}), '
                "or STOPLIVE_ALLOWLIST_FILE"
            ]
        )

    @property
    def allowlist(self) -> LiveAllowlist:
        """The allowlist in force; from a file, it follows the file (see LiveAllowlist)."""
        assert self._allowlist is not None  # set by _every_problem, which every instance passes
        return self._allowlist

    @property
    def metastudio_base_url(self) -> str:
        return (
            self.metastudio_endpoint
            or f"https://metastudio.{self.metastudio_region}.myhuaweicloud.com"
        )

    @property
    def iam_base_url(self) -> str:
        return (
            self.huaweicloud_iam_endpoint
            or f"https://iam.{self.metastudio_region}.myhuaweicloud.com"
        )

    @property
    def allowed_channels(self) -> frozenset[str]:
        raw = self.stoplive_allowed_channels or ""
        return frozenset(part.strip() for part in raw.split(",") if part.strip())

    @property
    def slack_response_hosts(self) -> frozenset[str]:
        """Hosts a Slack payload's ``response_url`` may point at: Slack's own, and the host of
        SLACK_API_URL when that is not Slack's (a stand-in's)."""
        api_host = urlsplit(self.slack_api_url).hostname or ""
        extra = {api_host} if api_host and not api_host.endswith("slack.com") else set()
        return SLACK_RESPONSE_HOSTS | extra

    @property
    def use_socket_mode(self) -> bool:
        if self.stoplive_mode is not None:
            return self.stoplive_mode == "socket"
        return not _missing(self.slack_app_token)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise ConfigError with every problem on its own line (names no
    setting reads included: start-up refuses them rather than ignore a misspelt one)."""
    env_file = overrides.get("_env_file", ".env")
    problems = unknown_names(env_file, known_names(Settings))
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems.extend(field_problems(exc))
    except UnicodeDecodeError as exc:
        problems.append(f"{env_file}: not UTF-8 text (byte offset {exc.start})")
    except OSError as exc:
        problems.append(f"{env_file}: cannot read it ({exc.strerror})")
    else:
        if not problems:
            return settings
    raise ConfigError(
        "stoplive cannot start. Fix these settings (environment or .env):\n"
        + "\n".join(f"  - {line}" for line in problems)
    )
