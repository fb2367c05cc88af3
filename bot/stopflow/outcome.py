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
    REFUSED = "refused"  # MetaStudio answered with an error: nothing was stopped
    UNKNOWN = "unknown"  # no answer, and the job could not be read either
    UNREADABLE = "unreadable"  # MetaStudio answered, but not in a form we can trust
    IAM_FAILED = "iam_failed"  # no IAM token: nothing was sent to MetaStudio
    NOT_SENT = "not_sent"  # the stop was never sent (found by a take-over before the call)
    SHUT_DOWN = "shut_down"  # stoplive stopped while the job was still being watched


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    ticket: Ticket
    app_user: str
    answered: bool  # did MetaStudio answer the stop call itself?
    request_id: str = ""
    job: SmartLiveJob | None = None  # the last state we saw
    error: MetaStudioError | None = None
    waited: float = 0.0  # seconds spent watching the job after the stop
    problem: str = ""  # why we could not know, when verdict is UNKNOWN or UNREADABLE
    iam_error: IamError | None = None  # when verdict is IAM_FAILED
    recovered_by: str = ""  # the replica that finished a stop whose owner was gone
