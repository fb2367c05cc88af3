"""Where the stop flow's words go: the :class:`Outlet` the Slack glue implements."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from bot.stopflow.gate import Refusal
from bot.stopflow.words import refusals
from bot.stopflow.words.markup import Reply

log = logging.getLogger(__name__)


class Outlet(Protocol):
    async def to_requester(self, reply: Reply) -> None:
        """Replace the requester's ephemeral message."""

    async def to_clicker(self, reply: Reply) -> None:
        """A new ephemeral message for whoever clicked (who may not be the requester)."""

    async def announce(self, reply: Reply, *, final: bool, fallback_url: str) -> str:
        """The channel's message about this stop: posted once, then revised in place. Returns
        its ``ts`` ("" if the channel would not take it). If the channel will not take the
        final one, it goes through ``fallback_url`` (the command's response URL) instead, and
        failing that to the requester."""

    async def copy_to(self, channel_id: str, reply: Reply) -> None:
        """Post a copy in another channel (the audit channel)."""

    async def reply_in_thread(self, reply: Reply) -> None:
        """A reply in the thread of the channel message, also shown in the channel
        (``reply_broadcast``): a revision (``chat.update``) notifies nobody, a reply does.
        Nothing if there is no channel message."""

    async def permalink(self) -> str | None:
        """A link to the channel message, as Slack gives it; None if there is none."""


# How a take-over reaches a stop's people with no click to answer: (channel ID, the command's
# response URL, the ``ts`` of the channel message to revise, "" if none was posted).
OutletFactory = Callable[[str, str, str], Outlet]


async def tell_refusal(outlet: Outlet, refused: Refusal, clicker: str) -> None:
    """A refused click answered in the gate's words, to whom the refusal says (the clicker, or
    the requester's own message). The refusal stands whether or not Slack takes the note: a
    failure is logged, never raised, so the caller still audits it."""
    reply = refusals.refusal(refused.reason)
    try:
        if refused.to_clicker:
            await outlet.to_clicker(reply)
        else:
            await outlet.to_requester(reply)
    except Exception:
        log.exception("could not tell %s why a click was refused", clicker)
