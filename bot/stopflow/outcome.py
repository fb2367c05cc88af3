"""What a confirmed stop came to, in terms a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.metastudio.errors import IamError, MetaStudioError
from bot.metastudio.models import SmartLiveJob
from bot.stopflow.tickets import Ticket


class Verdict(StrEnum):
    STOPPED = "stopped"  # the job is seen ended
    STILL_LIVE = "still_live"  # stop accepted (or lost), but the job is still running
    ENDED = "ended"  # MetaStudio refused this stop, and the job read ended: not by this stop
    REFUSED = "refused"  # MetaStudio said no (4xx), and a read showed the job live
    UNKNOWN = "unknown"  # no answer, and the job could not be read either
    UNKNOWN_STATE = "unknown_state"  # the job is in a state stoplive does not know
    UNREADABLE = "unreadable"  # MetaStudio answered, but not in a form we can trust
    IAM_FAILED = "iam_failed"  # no IAM token: nothing was sent to MetaStudio
    NOT_SENT = "not_sent"  # the stop was never sent (found by a take-over before the call)
    SHUT_DOWN = "shut_down"  # stoplive stopped while the job was still being watched


class StopAnswer(StrEnum):
    """What came back to the stop call; each value is the journal step that records it, so a
    take-over knows exactly what the original knew (``sent``: it never learnt)."""

    ANSWERED = "answered"  # a yes (2xx) or a no (4xx)
    UNCLEAR = "unclear"  # an answer that is neither (5xx, 429): it may have been applied
    NONE = "unanswered"  # no answer came (a timeout, a dropped connection)
    UNKNOWN = "sent"  # the journal never learnt what came back
    REFUSED = "refused"  # a no (4xx) to a job a read did not see live: no watch, no journal

    @classmethod
    def from_step(cls, step: str) -> StopAnswer:
        try:
            return cls(step)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    ticket: Ticket
    app_user: str
    answer: StopAnswer  # what came back to the stop call itself
    request_id: str = ""
    job: SmartLiveJob | None = None  # the last state we saw
    error: MetaStudioError | None = None  # the refusal, or the 5xx/429 that left the stop unclear
    waited: float = 0.0  # seconds spent watching the job after the stop
    problem: str = ""  # why we could not know, when verdict is UNKNOWN or UNREADABLE
    iam_error: IamError | None = None  # when verdict is IAM_FAILED
    recovered_by: str = ""  # the replica that finished a stop whose owner was gone

    @property
    def answered(self) -> bool:
        """MetaStudio said yes or no to the stop call itself."""
        return self.answer is StopAnswer.ANSWERED
