"""How stoplive proves who it is to MetaStudio, as ``httpx.Auth`` flows.

The client never knows which one it has: AK/SK signing, a fixed IAM token, or an IAM token
obtained from a username and password and renewed before it expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from bot.metastudio import signing
from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import parse_time

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class AkSkAuth(httpx.Auth):
    """Signs every request with an access key / secret key pair (``SDK-HMAC-SHA256``)."""

    requires_request_body = True

    def __init__(
        self,
        ak: SecretStr,
        sk: SecretStr,
        project_id: str,
        security_token: SecretStr | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._ak = ak
        self._sk = sk
        self._project_id = project_id
        self._security_token = security_token
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        when = self._clock()
        headers = request.headers
        headers["X-Project-Id"] = self._project_id
        if self._security_token is not None:
            headers["X-Security-Token"] = self._security_token.get_secret_value()
        headers["X-Sdk-Date"] = when.strftime(signing.DATE_FORMAT)
        content_type = headers.get("Content-Type")
        if request.content and signing.content_type_is_unsigned(content_type):
            headers["X-Sdk-Content-Sha256"] = signing.UNSIGNED_PAYLOAD
        raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
        headers["Authorization"] = signing.authorization(
            method=request.method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=signing.signable_headers(
                (k.decode("utf-8"), v.decode("utf-8")) for k, v in headers.raw
            ),
            body_hash=signing.payload_hash(request.content, content_type),
            ak=self._ak.get_secret_value(),
            sk=self._sk.get_secret_value(),
            when=when,
        )
        yield request


class TokenAuth(httpx.Auth):
    """A fixed IAM token, sent as ``X-Auth-Token`` (the operator renews it)."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token.get_secret_value()
        yield request


@dataclass(frozen=True)
class _Token:
    value: SecretStr
    renew_at: float  # monotonic seconds


class IamPasswordAuth(httpx.Auth):
    """Obtains an IAM token with a password, caches it, renews it well before it expires, and
    repeats a call once with a fresh token when MetaStudio answers 401.

    The token request is yielded from the same flow, so it goes over the same connection pool
    and nobody else needs to know it happened. One lock makes a burst of calls share one fetch.
    """

    # Renew this long before expiry (or at half-life, for short-lived tokens).
    RENEW_MARGIN = timedelta(hours=1)

    def __init__(
        self,
        *,
        iam_endpoint: str,
        username: str,
        password: SecretStr,
        domain: str,
        project_id: str,
        clock: Clock = utcnow,
    ) -> None:
        self._url = iam_endpoint.rstrip("/") + "/v3/auth/tokens"
        self._username = username
        self._password = password
        self._domain = domain
        self._project_id = project_id
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("IamPasswordAuth is for httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        stale = self._token
        if stale is None or time.monotonic() >= stale.renew_at:
            async with self._lock:
                if self._token is stale:  # nobody renewed it while we waited
                    self._token = await self._read_token((yield self._token_request()))
        request.headers["X-Auth-Token"] = self._current().get_secret_value()
        response = yield request
        if response.status_code == 401:
            used = self._token
            async with self._lock:
                if self._token is used:
                    self._token = await self._read_token((yield self._token_request()))
            request.headers["X-Auth-Token"] = self._current().get_secret_value()
            yield request

    def _current(self) -> SecretStr:
        assert self._token is not None
        return self._token.value

    def _token_request(self) -> httpx.Request:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._username,
                            "password": self._password.get_secret_value(),
                            "domain": {"name": self._domain},
                        }
                    },
                },
                "scope": {"project": {"id": self._project_id}},
            }
        }
        return httpx.Request("POST", self._url, json=body)

    async def _read_token(self, response: httpx.Response) -> _Token:
        await response.aread()
        token = response.headers.get("X-Subject-Token")
        if response.status_code not in (200, 201) or not token:
            raise iam_error(response)
        now = self._clock()
        try:
            expires = parse_time(response.json()["token"]["expires_at"])
        except (ValueError, KeyError, TypeError):
            expires = None
        lifetime = (expires - now) if expires else timedelta(hours=24)
        margin = min(self.RENEW_MARGIN, lifetime / 2)
        renew_in = max((lifetime - margin).total_seconds(), 0.0)
        return _Token(value=SecretStr(token), renew_at=time.monotonic() + renew_in)


def iam_error(response: httpx.Response) -> MetaStudioError:
    """IAM speaks ``{"error": {"code", "message"}}``; fold it into the one error type."""
    code, message = "IAM.TokenFailed", "could not obtain an IAM token"
    try:
        error = response.json().get("error", {})
        code = str(error.get("code", code))
        message = str(error.get("message", message))
    except (ValueError, AttributeError):
        pass
    return MetaStudioError(
        status=response.status_code,
        error_code=code,
        error_msg=f"IAM: {message}",
        request_id=response.headers.get("X-Request-Id", ""),
        retry_after=None,
    )
