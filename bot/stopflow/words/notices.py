"""Short notes to whoever clicked, for the cases the hardened click path refuses or defers.

Kept beside ``messages`` (which holds the words about a stream) because these say nothing
about a stream: they explain why a click did nothing, so nobody clicks again in doubt.
"""

from __future__ import annotations

from bot.stopflow.tickets import Ticket
from bot.stopflow.words.markup import Reply, channel, data, mention, words


def button_not_valid() -> Reply:
    return Reply(
        text=words(
            "⚠️ This button is not valid any more. Run /stoplive again if you still need to stop "
            "a stream. Nothing was stopped."
        )
    )


def wrong_place(ticket: Ticket) -> Reply:
    return Reply(
        text=words(
            "⛔ This confirmation was made in {c} and works there only. Nothing was stopped.",
            c=channel(ticket.channel_id),
        )
    )


def already_used() -> Reply:
    return Reply(
        text=words(
            "✋ Already used: this confirmation was confirmed or cancelled before, so this click "
            "did nothing."
        )
    )


def already_stopping(ticket: Ticket, holder: str) -> Reply:
    return Reply(
        text=words(
            "⏳ Already being stopped by {who}: job {j} in room {r}. The result will be posted in "
            "the channel; I did not send a second stop.",
            who=mention(holder),
            j=data(ticket.job_id),
            r=data(ticket.room_id),
        )
    )


def cannot_confirm_safely(refusing_writes: bool = False) -> Reply:
    """No stop sent: the store did not take the claims. Which of its failures it was, so the
    person who fixes it looks at the right thing (down, or up and refusing writes)."""
    why = "is refusing writes" if refusing_writes else "is not answering"
    return Reply(
        text=words(
            f"⚠️ Not stopped: I can't confirm a stop safely right now (my state store {why}). "
            "Try again in a minute, or stop the job in the MetaStudio console."
        )
    )
