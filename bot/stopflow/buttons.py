"""What the outcome message's buttons carry: the job they are about, and the console link.

A "Check again" or "Stop again" value is the room and job ID (``"<room_id> <job_id>"``),
checked as strictly as typed IDs before it comes near a URL. It needs no seal: clicking it
only asks to look at the job (or to be shown a confirmation), and both go through the gate
with the clicker's own grant.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.metastudio.ids import InvalidId, check_resource_id, path_segment
from bot.stopflow.outcome import Outcome


@dataclass(frozen=True)
class JobRef:
    room_id: str
    job_id: str

    def encode(self) -> str:
        """The value of a "Check again" or "Stop again" button."""
        return f"{self.room_id} {self.job_id}"

    @classmethod
    def decode(cls, value: str) -> JobRef | None:
        """The room and job a button names; None unless both are well-formed IDs."""
        parts = value.split(" ")
        if len(parts) != 2:
            return None
        try:
            return cls(check_resource_id("room", parts[0]), check_resource_id("job", parts[1]))
        except InvalidId:
            return None


@dataclass(frozen=True)
class OutcomeButtons:
    """What the outcome message's buttons carry: the console link (from the
    ``STOPLIVE_CONSOLE_URL`` template, already checked by the settings) and the job's
    reference for "Check again", and for "Stop again" while the job is not seen ended."""

    console_template: str | None = None
    region: str = ""
    project_id: str = ""

    def console_url(self, room_id: str, job_id: str) -> str | None:
        if not self.console_template:
            return None
        return self.console_template.format(
            region=path_segment(self.region),
            project_id=path_segment(self.project_id),
            room_id=path_segment(room_id),
            job_id=path_segment(job_id),
        )

    def for_outcome(self, outcome: Outcome) -> dict[str, str | None]:
        """Keyword arguments for :func:`~bot.stopflow.messages.announcement`."""
        t = outcome.ticket
        ref = JobRef.decode(f"{t.room_id} {t.job_id}")
        # a job in a state stoplive does not know may still be live: it can be stopped again
        stoppable = outcome.job is not None and not outcome.job.has_ended
        return {
            "console_url": self.console_url(t.room_id, t.job_id),
            "check_value": ref.encode() if ref else None,
            "stop_value": ref.encode() if ref and stoppable else None,
        }
