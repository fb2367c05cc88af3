"""What is known about one stop so far, and what an outcome says beyond its verdict: enough
to say something true at any moment (the supervisor fills it in as the stop goes)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bot.metastudio import MetaStudioError, OutcomeUnknown
from bot.metastudio.models import Liveness, SmartLiveJob
from bot.stopflow.outcome import Outcome, StopAnswer, Verdict
from bot.stopflow.store import JournalEntry
from bot.stopflow.tickets import Ticket


@dataclass
class Progress:
    """What is known about one stop so far: enough to say something true at any moment."""

    entry: JournalEntry
    ticket: Ticket
    started: float  # time.monotonic() of the click (or of the take-over)
    sent: bool = False
    answer: StopAnswer = StopAnswer.UNKNOWN
    unclear: MetaStudioError | None = None  # the 5xx/429 that answered the stop, if one did
    request_id: str = ""
    job: SmartLiveJob | None = None
    problem: str = ""
    unreadable: bool = False
    watch_started: float = 0.0
    recovered_by: str = ""
    approved_by: str = ""  # a two-person /stoplive all's approver; batch: its id
    batch: str = ""
    told: Verdict | None = None  # what the thread was told when the first window ended
    lease_lost: bool = False
    released: bool = False  # the job's claim went back with the journal's finish
    note: asyncio.Task[None] | None = None  # the "Stopping…" note, sent beside the stop call

    def outcome(self, verdict: Verdict, **more: Any) -> Outcome:
        waited = time.monotonic() - self.watch_started if self.watch_started else 0.0
        values: dict[str, Any] = {
            "verdict": verdict,
            "ticket": self.ticket,
            "app_user": self.entry.app_user_id,
            "answer": self.answer,
            "error": self.unclear,
            "request_id": self.request_id,
            "job": self.job,
            "waited": waited,
            "problem": self.problem,
            "recovered_by": self.recovered_by,
        }
        values.update(more)
        return Outcome(**values)

    def after_refusal(self, refusal: OutcomeUnknown) -> Outcome:
        """A no (4xx) to a stop whose job the client's read did not see live: what that read
        shows, never "stopped" (something else ended it: a stop of a second click, an earlier
        attempt, MetaStudio) and never "nothing was stopped" (the job is not seen live)."""
        self.answer, self.unclear, self.request_id = (
            StopAnswer.REFUSED,
            refusal.answer,
            refusal.request_id,
        )
        self.job = refusal.job
        if self.job is None:
            self.problem = "the job could not be read after the refusal"
            return self.outcome(Verdict.UNKNOWN)
        return self.outcome(Verdict.ENDED if self.job.has_ended else Verdict.UNKNOWN_STATE)

    def undecided(self, why: str) -> Outcome:
        """The outcome when the watch could not finish: the truest of what we saw."""
        if self.job is not None and self.job.has_ended:
            return self.outcome(Verdict.STOPPED)
        self.problem = self.problem or why
        if self.job is not None:
            live = self.job.liveness is Liveness.LIVE
            return self.outcome(Verdict.STILL_LIVE if live else Verdict.UNKNOWN_STATE)
        return self.outcome(Verdict.UNREADABLE if self.unreadable else Verdict.UNKNOWN)


def is_loud(outcome: Outcome, progress: Progress) -> bool:
    """Whether the outcome is also posted as a thread reply broadcast to the channel: a bad
    verdict, one found after a restart, or one that changed after the channel was told the
    job was still live. A clean stop is not: the revised message says all."""
    return (
        outcome.verdict not in (Verdict.STOPPED, Verdict.ENDED)
        or bool(outcome.recovered_by)
        or progress.told is not None
    )


STOP_ANSWER_DETAIL = {
    StopAnswer.ANSWERED: "",
    StopAnswer.UNCLEAR: "stop answer unclear",
    StopAnswer.NONE: "stop unanswered",
    StopAnswer.UNKNOWN: "stop answer unknown to the journal",
    StopAnswer.REFUSED: "stop refused",
}


def outcome_detail(outcome: Outcome) -> str | None:
    error = outcome.error
    said = f"HTTP {error.status} {error.error_code}: {error.error_msg}" if error else ""
    if outcome.verdict is Verdict.REFUSED:
        return said or None
    parts = [STOP_ANSWER_DETAIL[outcome.answer]]
    if said:
        parts.append(said)
    if outcome.job is not None:
        parts.append(f"job {outcome.job.state}")
    if outcome.problem:
        parts.append(outcome.problem)
    return "; ".join(part for part in parts if part) or None
