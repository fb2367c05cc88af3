"""Thin Bolt handlers, one module per kind: they translate Slack payloads into workflow calls."""

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands
from bot.stopflow.workflow import StopWorkflow


def register(app: AsyncApp, workflow: StopWorkflow) -> None:
    commands.register(app, workflow)
    actions.register(app, workflow)
