"""Every setting stoplive reads, in one place.

Each field's name *is* its environment variable (upper-cased); an optional ``.env`` file in
the working directory is read too. This class is the documentation: the README's table is
copied from it. Secrets are ``SecretStr`` so that no log line or repr can show them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.stopflow.allowlist import Allowlist, AllowlistError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


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
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- MetaStudio -------------------------------------------------------------------------
    metastudio_project_id: str = Field("", description="Huawei Cloud project ID (required)")
    metastudio_region: str = Field("cn-north-4", description="Region of the MetaStudio endpoint")
    metastudio_endpoint: str | None = Field(
        None, description="Full base URL overriding the region's, e.g. http://127.0.0.1:8080"
    )
    metastudio_timeout: float = Field(8.0, gt=0, le=60, description="Seconds per MetaStudio call")

    # AK/SK (the names Huawei's own SDK reads)
    huaweicloud_sdk_ak: SecretStr | None = None
    huaweicloud_sdk_sk: SecretStr | None = None
    huaweicloud_sdk_security_token: SecretStr | None = None
    # ... or a fixed token ...
    metastudio_auth_token: SecretStr | None = None
    # ... or IAM password auth
    huaweicloud_iam_username: str | None = None
    huaweicloud_iam_password: SecretStr | None = None
    huaweicloud_iam_domain: str | None = None
    huaweicloud_iam_endpoint: str | None = None

    # --- Slack ------------------------------------------------------------------------------
    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    stoplive_mode: Literal["socket", "http"] | None = None
    port: int = Field(
        3000, ge=0, le=65535, description="HTTP mode: port to listen on (0: any free one)"
    )
    stoplive_host: str = Field("0.0.0.0", description="HTTP mode: address to listen on")

    # --- Who may stop what, and where -------------------------------------------------------
    stoplive_allowlist: str | None = Field(None, description='JSON: {"U024BE7LH": "ops-alice"}')
    stoplive_allowlist_file: str | None = Field(None, description="JSON or YAML file, same shape")
    stoplive_confirm_ttl: int = Field(
        300, ge=1, le=3600, description="Seconds a confirmation lives"
    )
    stoplive_contact: str = Field(
        "your on-call lead", description="Whom a refused user should ask for access"
    )
    stoplive_allowed_channels: str | None = Field(None, description="Comma-separated channel IDs")
    stoplive_audit_channel: str | None = Field(None, description="Channel ID for every outcome")
    stoplive_verify_seconds: float = Field(
        30.0, ge=0, le=300, description="How long to watch a stopped job until it has ended"
    )

    _allowlist: Allowlist | None = None

    @model_validator(mode="after")
    def _check(self) -> Settings:
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
            problems.append(str(exc))
        if problems:
            raise ValueError("\n".join(problems))
        return self

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

    def _load_allowlist(self) -> Allowlist:
        if self.stoplive_allowlist and self.stoplive_allowlist_file:
            raise AllowlistError(
                "STOPLIVE_ALLOWLIST and STOPLIVE_ALLOWLIST_FILE: set one, not both"
            )
        if self.stoplive_allowlist_file:
            return Allowlist.from_file(self.stoplive_allowlist_file)
        if self.stoplive_allowlist:
            return Allowlist.from_text(self.stoplive_allowlist, source="STOPLIVE_ALLOWLIST")
        raise AllowlistError(
            'STOPLIVE_ALLOWLIST: required (JSON like {"U024BE7LH": "ops-alice"}), '
            "or STOPLIVE_ALLOWLIST_FILE"
        )

    @property
    def allowlist(self) -> Allowlist:
        assert self._allowlist is not None  # set by _check, which every instance passes
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
    def use_socket_mode(self) -> bool:
        if self.stoplive_mode is not None:
            return self.stoplive_mode == "socket"
        return not _missing(self.slack_app_token)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise ConfigError with every problem on its own line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines: list[str] = []
        for error in exc.errors(include_url=False, include_input=False):
            if error["loc"]:
                lines.append(f"{str(error['loc'][0]).upper()}: {error['msg']}")
            else:  # our own model check: one problem a line, already named
                lines.extend(str(error["msg"]).removeprefix("Value error, ").splitlines())
        raise ConfigError(
            "stoplive cannot start. Fix these settings (environment or .env):\n"
            + "\n".join(f"  - {line}" for line in lines)
        ) from None
