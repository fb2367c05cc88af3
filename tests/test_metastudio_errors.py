"""One family of MetaStudio failures: callers catch the base, and each says itself in words."""

from __future__ import annotations

import pytest

from bot.metastudio import (
    AboutAnotherRoom,
    IamError,
    InvalidId,
    MetaStudioError,
    MetaStudioFailure,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
    describe,
)

ANSWER = MetaStudioError(503, "MSS.00000001", "busy", "req-1", None)
FAILURES: list[tuple[MetaStudioFailure, str, str]] = [
    (ANSWER, "req-1", "HTTP 503 MSS.00000001: busy"),
    (
        OutcomeUnknown("stop", ANSWER),
        "req-1",
        "stop: MetaStudio answered HTTP 503 MSS.00000001, which does not say whether it was applied",
    ),
    (OutcomeUnknown("stop", OSError()), "", "stop: no answer from MetaStudio (OSError)"),
    (Unreachable("read", OSError("down")), "", "read: MetaStudio unreachable (OSError: down)"),
    (
        UnreadableAnswer("read", "not JSON", "req-2"),
        "req-2",
        "MetaStudio's answer was unreadable (not JSON)",
    ),
    (
        AboutAnotherRoom("read", "room r2", "req-3"),
        "req-3",
        "MetaStudio's answer was unreadable (room r2)",
    ),
    (
        IamError(401, "APIGW.0301", "bad password", "req-4"),
        "req-4",
        "no IAM token (IAM: HTTP 401 APIGW.0301: bad password); nothing was sent to MetaStudio",
    ),
]


@pytest.mark.parametrize(("failure", "request_id", "words"), FAILURES)
def test_every_failure_is_one_family_with_its_request_id_and_words(
    failure: MetaStudioFailure, request_id: str, words: str
) -> None:
    assert isinstance(failure, MetaStudioFailure)
    assert failure.request_id == request_id
    assert failure.description == words == describe(failure)


def test_what_is_not_of_the_family_is_still_said_plainly() -> None:
    assert describe(TimeoutError()) == "MetaStudio took too long to answer"
    assert describe(InvalidId("bad id")) == "MetaStudio's answer was unusable (bad id)"
    assert describe(ValueError("x")) == "MetaStudio's answer was unreadable (ValueError)"
