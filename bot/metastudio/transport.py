"""The HTTP plumbing under :class:`~bot.metastudio.client.MetaStudioClient`: one call with its
retries and its place in the queue, the URL cache, the clock read from every answer, and every
answer read into a typed model or refused as :class:`UnreadableAnswer`.

Apart from the calls themselves (``client.py``) and the lists (``listing.py``), which build on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.metastudio.auth import token_request_failure
from bot.metastudio.errors import (
    CLOCK_SKEW_WARNING,
    IamError,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
    clock_skew_words,
)
from bot.metastudio.ids import check_app_user_id
from bot.metastudio.retry import RetryPolicy, parse_retry_after
from bot.metastudio.text import parse_http_date, safe_text

log = logging.getLogger("bot.metastudio")

# Requests in flight at once. httpcore's pool scans every queued request against every
# connection (and asks each connection's socket whether it expired) on each change, so its CPU
# cost grows with the square of what is queued: a 200-request burst cost whole seconds of CPU
# (bench/burst.py). Requests wait here, in a cheap FIFO, instead. 8 measured fastest against
# the local stand-in (bench/client_vs_sdk.py); with a 200 ms round trip it still allows 40
# calls a second per process, far more than any incident needs.
MAX_IN_FLIGHT = 8
# Of those, reads (a job watched after its stop, the lookups before a confirmation, a list of
# every room) take at most this many: a stop never queues behind a 50-room list or the
# watches of a burst of stops. The stop is the call that matters at 3 a.m.
MAX_READS_IN_FLIGHT = MAX_IN_FLIGHT - 2
# Absolute URLs kept per path. httpx parses a relative path, then the merge with base_url,
# character by character in Python: a fifth of a call's CPU for stoplive's long job paths
# (bench/client_vs_sdk.py). A stop reads its job again and again while it watches it.
URL_CACHE_SIZE = 512
ERROR_TEXT_LIMIT = 300  # characters of a server's error message kept (a gateway page is huge)

# Raised before a single byte of the request left: always safe to try again.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
)

Model = TypeVar("Model", bound=BaseModel)


class CallPlumbing:
    """The calls' plumbing; :class:`~bot.metastudio.client.MetaStudioClient` sets it up."""

    _retry: RetryPolicy
    _in_flight: asyncio.Semaphore
    _reads_in_flight: asyncio.Semaphore
    _http: httpx.AsyncClient
    _urls: dict[str, httpx.URL]
    _skew_reported: bool
    clock_skew_seconds: float | None

    @property
    def clock_is_off(self) -> bool:
        """The clock is far enough off that signatures are (or soon will be) refused."""
        skew = self.clock_skew_seconds
        return skew is not None and abs(skew) > CLOCK_SKEW_WARNING

    def _url(self, path: str) -> httpx.URL:
        """``path`` on the endpoint, as httpx merges it with ``base_url`` (parsed once)."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            url = self._urls[path] = self._http.build_request("GET", path).url
        return url

    async def _note_clock(self, response: httpx.Response) -> None:
        """Every answer (IAM's included) says what time the server thinks it is."""
        server_time = parse_http_date(response.headers.get("Date"))
        if server_time is None:
            return
        self.clock_skew_seconds = (datetime.now(UTC) - server_time).total_seconds()
        if self.clock_is_off and not self._skew_reported:
            log.warning("%s", clock_skew_words(self.clock_skew_seconds))
        self._skew_reported = self.clock_is_off

    async def _call(
        self,
        method: str,
        path: str,
        app_user_id: str,
        *,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        what: str,
    ) -> httpx.Response:
        headers = {"X-App-UserId": check_app_user_id(app_user_id)}
        deadline = time.monotonic() + self._retry.budget
        # a stop (the one call that is not idempotent) never waits for a read's turn
        reads: contextlib.AbstractAsyncContextManager[Any] = (
            self._reads_in_flight if idempotent else contextlib.nullcontext()
        )
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                async with reads, self._in_flight:
                    response = await self._http.request(
                        method, self._url(path), params=params, headers=headers
                    )
            except IamError as exc:  # no token: nothing was sent to MetaStudio
                if not exc.retryable:
                    raise
                failure: Exception = exc
            except httpx.TransportError as exc:
                if (iam := token_request_failure(exc)) is not None:
                    failure = iam
                elif isinstance(exc, _NOT_SENT) or idempotent:
                    failure = Unreachable(what, exc)
                else:
                    raise OutcomeUnknown(what, exc) from exc
            except httpx.DecodingError as exc:  # an answer came, in an encoding none can read
                raise UnreadableAnswer(what, "the body could not be decoded", "") from exc
            else:
                if response.is_success:
                    return response
                error = _error(response, self.clock_skew_seconds if self.clock_is_off else None)
                if not error.retryable:
                    raise error
                if not idempotent:  # neither yes nor no: the caller reads before resending
                    raise OutcomeUnknown(what, error)
                failure, retry_after = error, error.retry_after
            wait = self._retry.delay(attempt, retry_after)
            if attempt >= self._retry.attempts or time.monotonic() + wait > deadline:
                raise failure
            await asyncio.sleep(wait)


def _request_id(response: httpx.Response) -> str:
    return safe_text(response.headers.get("X-Request-Id", ""), 128)


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The answer's JSON object, or :class:`UnreadableAnswer` saying what came instead."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        kind = safe_text(response.headers.get("Content-Type") or "no content type", 80)
        raise UnreadableAnswer(what, f"not JSON ({kind})", _request_id(response)) from None
    if not isinstance(body, dict):
        raise UnreadableAnswer(
            what, f"a JSON {type(body).__name__} instead of an object", _request_id(response)
        )
    return body


def _model(model: type[Model], data: dict[str, Any], what: str, response: httpx.Response) -> Model:
    """``data`` read into ``model``, or :class:`UnreadableAnswer` naming the first bad field
    (never its value: it may be huge, or anything at all)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        detail = safe_text(f"{where}: {first['msg']}", 200)
        raise UnreadableAnswer(what, detail, _request_id(response)) from None


def _error(response: httpx.Response, clock_skew: float | None) -> MetaStudioError:
    """Any non-2xx answer, JSON or not, as one exception with everything worth quoting, cut
    short and free of control characters; a 401 to a signed request names a clock that is off."""
    code, message = f"HTTP.{response.status_code}", response.reason_phrase or "error"
    signed = "X-Sdk-Date" in response.request.headers
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        body = None
        text = safe_text(response.text, ERROR_TEXT_LIMIT)
        if text:
            message = text
    if isinstance(body, dict):
        code = safe_text(body.get("error_code") or code, 64)
        message = safe_text(body.get("error_msg") or message, ERROR_TEXT_LIMIT)
    return MetaStudioError(
        status=response.status_code,
        error_code=code,
        error_msg=message,
        request_id=_request_id(response),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        # Only a signature is held to the clock; a token is not.
        clock_skew=clock_skew if response.status_code == 401 and signed else None,
    )
