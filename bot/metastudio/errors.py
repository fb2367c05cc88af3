"""The two ways a MetaStudio call can fail, kept apart on purpose.

:class:`MetaStudioError` means MetaStudio *answered* and said no: the caller knows what
happened. :class:`OutcomeUnknown` means the request may or may not have reached it (a timeout
or a dropped connection after sending): the caller must look at the job, not guess.
"""

from __future__ import annotations


class MetaStudioError(Exception):
    """A non-2xx answer, with everything an operator needs to quote to Huawei support."""

    def __init__(
        self,
        status: int,
        error_code: str,
        error_msg: str,
        request_id: str,
        retry_after: float | None,
    ) -> None:
        super().__init__(f"HTTP {status} {error_code}: {error_msg} (request {request_id or 'n/a'})")
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


class OutcomeUnknown(Exception):
    """The call was sent but no answer came back: it may or may not have taken effect."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(f"{what}: no answer from MetaStudio ({type(cause).__name__})")
        self.cause = cause


class Unreachable(Exception):
    """MetaStudio could not be reached at all (nothing was sent, or reads kept failing)."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(f"{what}: MetaStudio unreachable ({type(cause).__name__}: {cause})")
        self.cause = cause


class UnreadableAnswer(Exception):
    """MetaStudio answered 2xx, but not with the documented JSON (an HTML gateway page, wrong
    types): what it said cannot be trusted either way."""

    def __init__(self, what: str, detail: str, request_id: str) -> None:
        super().__init__(f"{what}: MetaStudio's answer was unreadable ({detail})")
        self.detail = detail
        self.request_id = request_id


class IamError(Exception):
    """No IAM token could be had: IAM refused (``status`` set) or could not be reached (0).
    Nothing was sent to MetaStudio, so no stop was made."""

    def __init__(self, status: int, code: str, message: str, request_id: str = "") -> None:
        shown = f"HTTP {status} {code}" if status else code
        super().__init__(f"IAM: {shown}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
