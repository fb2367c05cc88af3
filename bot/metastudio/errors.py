"""The ways a MetaStudio call can fail: one family under :class:`MetaStudioFailure`, kept apart
on purpose below it.

:class:`MetaStudioError` means MetaStudio *answered* and said no: the caller knows what
happened. :class:`OutcomeUnknown` means the request may or may not have reached it (a timeout
or a dropped connection after sending): the caller must look at the job, not guess.
:class:`Unreachable` means nothing got through; :class:`UnreadableAnswer` that a 2xx could not
be read; :class:`IamError` that no token could be had, so nothing was sent at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.metastudio.ids import InvalidId

if TYPE_CHECKING:
    from bot.metastudio.models import SmartLiveJob

# AK/SK signatures are refused beyond 15 minutes of skew; warn well before that.
CLOCK_SKEW_WARNING = 5 * 60.0


def clock_skew_words(seconds: float) -> str:
    """The one way to say how far off this machine's clock is (``seconds`` > 0: ahead)."""
    minutes = round(abs(seconds) / 60)
    direction = "ahead of" if seconds > 0 else "behind"
    return (
        f"this machine's clock is {minutes} min off ({direction} MetaStudio's); "
        "fix the clock (NTP), since signatures more than 15 min off are refused"
    )


class MetaStudioFailure(Exception):
    """Any failure of a MetaStudio or IAM call once it was made: what callers catch.

    Each carries ``request_id`` ("" when none came) for Huawei support and ``description``, the
    failure in plain words for the requester or the channel (never a secret: only IDs, codes and
    MetaStudio's or IAM's own message).
    """

    request_id: str = ""

    @property
    def description(self) -> str:
        return str(self)


class MetaStudioError(MetaStudioFailure):
    """A non-2xx answer, with everything an operator needs to quote to Huawei support.

    ``clock_skew`` is set (seconds this machine's clock is ahead) on a 401 to a signed (AK/SK)
    request answered while the clock was more than :data:`CLOCK_SKEW_WARNING` off: then the
    clock, not the credentials, is the likely culprit, and the message says so
    (:func:`clock_skew_words`, which the workflow can use to say it too).
    """

    def __init__(
        self,
        status: int,
        error_code: str,
        error_msg: str,
        request_id: str,
        retry_after: float | None,
        clock_skew: float | None = None,
    ) -> None:
        text = f"HTTP {status} {error_code}: {error_msg} (request {request_id or 'n/a'})"
        if clock_skew is not None:
            text += f"; {clock_skew_words(clock_skew)}"
        super().__init__(text)
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.retry_after = retry_after
        self.clock_skew = clock_skew

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500

    @property
    def description(self) -> str:
        return f"HTTP {self.status} {self.error_code}: {self.error_msg}"


class OutcomeUnknown(MetaStudioFailure):
    """The call was sent and what came back says neither yes (2xx) nor no (4xx): no answer
    (a timeout, a dropped connection), or an error in front of or inside MetaStudio (5xx,
    429). It may or may not have taken effect. ``answer`` is that error, when one came.

    Also a no (4xx) to a stop of a job a read did not see live (``refused``): the job may
    have ended by another stop, so the no alone says nothing about the stream. ``job`` is
    that read (None: it failed)."""

    def __init__(self, what: str, cause: BaseException, job: SmartLiveJob | None = None) -> None:
        self.answer = cause if isinstance(cause, MetaStudioError) else None
        self.job = job
        if self.refused:
            text = f"{what}: refused ({self.answer}), and the job was not read live"
        elif self.answer is not None:
            said = f"MetaStudio answered HTTP {self.answer.status} {self.answer.error_code}"
            text = f"{what}: {said}, which does not say whether it was applied"
        else:
            text = f"{what}: no answer from MetaStudio ({type(cause).__name__})"
        super().__init__(text)
        self.cause = cause

    @property  # read from the answer that came, if one did
    def request_id(self) -> str:  # type: ignore[override]
        return self.answer.request_id if self.answer is not None else ""

    @property
    def refused(self) -> bool:
        """MetaStudio said no (a 4xx), but a read did not see the job live."""
        return self.answer is not None and not self.answer.retryable


class Unreachable(MetaStudioFailure):
    """MetaStudio could not be reached at all (nothing was sent, or reads kept failing)."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(f"{what}: MetaStudio unreachable ({type(cause).__name__}: {cause})")
        self.cause = cause


class UnreadableAnswer(MetaStudioFailure):
    """MetaStudio answered 2xx, but not with the documented JSON (an HTML gateway page, wrong
    types): what it said cannot be trusted either way."""

    def __init__(self, what: str, detail: str, request_id: str) -> None:
        super().__init__(f"{what}: MetaStudio's answer was unreadable ({detail})")
        self.detail = detail
        self.request_id = request_id

    @property
    def description(self) -> str:
        return f"MetaStudio's answer was unreadable ({self.detail})"


class UnusableAnswer(UnreadableAnswer):
    """MetaStudio's answer named an ID stoplive will not send back in a URL (a room it
    listed, say): ``detail`` is the :class:`InvalidId`'s words (never the ID itself). Said as
    "unusable", as such an ID always was, not "unreadable": the answer was read."""

    @property
    def description(self) -> str:
        return f"MetaStudio's answer was unusable ({self.detail})"


class AboutAnotherRoom(UnreadableAnswer):
    """A read of one room's job answered about a job of another room: MetaStudio may resolve
    jobs by ID alone, so a stop sent under the asked room could end the other room's stream.
    Whatever else the answer says, no stop is offered on it."""


class IamError(MetaStudioFailure):
    """No IAM token could be had: IAM refused (``status`` set) or could not be reached (0).
    Nothing was sent to MetaStudio, so no stop was made."""

    def __init__(self, status: int, code: str, message: str, request_id: str = "") -> None:
        shown = f"HTTP {status} {code}" if status else code
        super().__init__(f"IAM: {shown}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        """IAM could not be reached, or asked us to come back (5xx, 429)."""
        return self.status in (0, 429) or self.status >= 500

    @property
    def description(self) -> str:
        return f"no IAM token ({self}); nothing was sent to MetaStudio"


# A call's failures as callers catch them: the family (the client maps whatever an answer
# does to it, at its edge), plus a deadline the caller set and an ID the client would not send
# (:class:`InvalidId`, raised before a byte left; also what the workflow raises of a listed ID).
CALL_FAILURES: tuple[type[Exception], ...] = (MetaStudioFailure, TimeoutError, InvalidId)


def describe(exc: BaseException) -> str:
    """A failure in words for the requester or the channel (never a secret: the errors carry
    IDs, codes and MetaStudio's or IAM's own message only)."""
    if isinstance(exc, TimeoutError):
        return "MetaStudio took too long to answer"
    if isinstance(exc, MetaStudioFailure):
        return exc.description
    if isinstance(exc, InvalidId):  # an ID MetaStudio gave that we will not send back
        return f"MetaStudio's answer was unusable ({exc})"
    if isinstance(exc, ValueError):
        return f"MetaStudio's answer was unreadable ({type(exc).__name__})"
    return str(exc)


# Everything a read can raise once the call was made (IDs are checked before, as InvalidId).
ReadFailure = MetaStudioError | Unreachable | UnreadableAnswer | IamError
READ_FAILURES: tuple[type[Exception], ...] = (
    MetaStudioError,
    Unreachable,
    UnreadableAnswer,
    IamError,
)
