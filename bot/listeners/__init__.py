"""Thin Bolt handlers, one module per kind: they translate Slack payloads into workflow calls."""

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners import actions, commands
from bot.stopflow.workflow import StopWorkflow


def register(app: AsyncApp, workflow: StopWorkflow, slack: AsyncWebClient) -> None:
    """``slack`` is the Web API client the handlers answer through."""
    commands.register(app, workflow, slack)
    actions.register(app, workflow, slack)
