"""Thin Bolt handlers, one module per kind: they turn Slack payloads into workflow calls, ack
at once, and leave anything slow to :class:`~bot.background.Background`."""

from slack_bolt.async_app import AsyncApp

from bot.background import Background
from bot.slack.listeners import actions, commands, events
from bot.slack.listeners.workspace import Workspace
from bot.stopflow.workflow import StopWorkflow


def register(app: AsyncApp, workflow: StopWorkflow, background: Background) -> None:
    workspace = Workspace()  # its address, for links to channel messages
    commands.register(app, workflow, background, workspace)
    actions.register(app, workflow, background)
    events.register(app, workflow.history, background, workspace)
