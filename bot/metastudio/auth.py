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
from bot.metastudio.errors import IamError
from bot.metastudio.models import parse_time
from bot.metastudio.text import parse_http_date, safe_text

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


# Marks the token requests this module builds, so the client can tell an IAM failure raised
# by the transport (connect error, timeout) from a MetaStudio one: nothing reached MetaStudio.
IAM_TOKEN_REQUEST = "stoplive.iam_token_request"
IAM_TOKEN_LIFETIME = timedelta(hours=24)  # what IAM documents, when its answer does not say


class IamPasswordAuth(httpx.Auth):
    """Obtains an IAM token with a password, caches it, renews it well before it expires, and
    repeats a call once with a fresh token when MetaStudio answers 401.

    The token request is yielded from the same flow, so it goes over the client's transport
    with the client's timeout, and nobody else needs to know it happened. One lock makes a burst
    of calls share one fetch, and a 401 renews the token only if the request carried the current
    one (a burst of 401s for one stale token costs one fetch, not one each). Every failure to
    get a token is an :class:`IamError`; the client retries those that say "try again".
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

    @property
    def url(self) -> str:
        """Where tokens come from (for ``check`` to name)."""
        return self._url

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("IamPasswordAuth is for httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        timeout = request.extensions.get("timeout")
        stale = self._token
        if stale is None or time.monotonic() >= stale.renew_at:
            async with self._lock:
                if self._token is stale:  # nobody renewed it while we waited
                    answer = yield self._token_request(timeout)
                    self._token = await self._read_token(answer)
        carried = self._token
        request.headers["X-Auth-Token"] = self._current().get_secret_value()
        response = yield request
        if response.status_code == 401:
            async with self._lock:
                if self._token is carried:  # nobody renewed it since this request left
                    answer = yield self._token_request(timeout)
                    self._token = await self._read_token(answer)
            request.headers["X-Auth-Token"] = self._current().get_secret_value()
            yield request

    def _current(self) -> SecretStr:
        assert self._token is not None
        return self._token.value

    def _token_request(self, timeout: object) -> httpx.Request:
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
        # A request built outside the client carries no timeout extension, and httpcore then
        # waits for ever: give it the timeout of the request it is fetching a token for.
        extensions: dict[str, object] = {IAM_TOKEN_REQUEST: True}
        if timeout is not None:
            extensions["timeout"] = timeout
        return httpx.Request("POST", self._url, json=body, extensions=extensions)

    async def _read_token(self, response: httpx.Response) -> _Token:
        try:
            await response.aread()
        except httpx.TransportError as exc:
            raise iam_unreachable(exc) from exc
        token = response.headers.get("X-Subject-Token", "").strip()
        if response.status_code not in (200, 201) or not token:
            raise iam_error(response)
        try:
            expires = parse_time(response.json()["token"]["expires_at"])
        except (ValueError, KeyError, TypeError, IndexError):
            expires = None
        # Measured against IAM's own clock (its Date header) when it sends one, so a machine
        # whose clock is off still renews in time.
        now = parse_http_date(response.headers.get("Date")) or self._clock()
        lifetime = min(expires - now, IAM_TOKEN_LIFETIME) if expires else IAM_TOKEN_LIFETIME
        margin = min(self.RENEW_MARGIN, lifetime / 2)
        renew_in = max((lifetime - margin).total_seconds(), 0.0)
        return _Token(value=SecretStr(token), renew_at=time.monotonic() + renew_in)


def iam_error(response: httpx.Response) -> IamError:
    """IAM refused: it speaks ``{"error": {"code", "message"}}``, or anything else at all."""
    code, message = "IAM.TokenFailed", "could not obtain an IAM token"
    if response.is_success:
        message = "IAM answered without a token (no X-Subject-Token header)"
    try:
        error = response.json()["error"]
        code = safe_text(error["code"], 64) or code
        message = safe_text(error["message"], 300) or message
    except (ValueError, KeyError, TypeError, IndexError):
        if not response.is_success:
            message = safe_text(response.text, 300) or response.reason_phrase or message
    return IamError(
        response.status_code,
        code,
        message,
        request_id=safe_text(response.headers.get("X-Request-Id", ""), 128),
    )


def iam_unreachable(exc: httpx.TransportError) -> IamError:
    """IAM could not be reached, or its answer was lost (status 0)."""
    return IamError(0, "IAM.Unreachable", f"no answer from IAM ({type(exc).__name__})")


def token_request_failure(exc: httpx.TransportError) -> IamError | None:
    """The IamError for a transport failure of an IAM token request, None for any other."""
    try:
        request = exc.request
    except RuntimeError:  # raised without a request attached
        return None
    return iam_unreachable(exc) if request.extensions.get(IAM_TOKEN_REQUEST) else None
