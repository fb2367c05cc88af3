"""Thin Bolt handlers, one module per kind: they turn Slack payloads into workflow calls, ack
at once, and leave anything slow to :class:`~bot.background.Background`."""

from slack_bolt.async_app import AsyncApp

from bot.background import Background
from bot.listeners import actions, commands, events
from bot.stopflow.checking import JobChecks
from bot.stopflow.history import History
from bot.stopflow.workflow import StopWorkflow


def register(
    app: AsyncApp,
    workflow: StopWorkflow,
    background: Background,
    history: History | None = None,
    checks: JobChecks | None = None,
) -> None:
    """``history`` adds the Home tab; ``checks`` the outcome message's buttons."""
    commands.register(app, workflow, background)
    actions.register(app, workflow, background, checks)
    if history is not None:
        events.register(app, history, background)
