"""The baseline for ``bench/burst.py``: a bare Bolt app that makes the same calls as stoplive
with none of its checks — no allowlist, no validation, no job lookup, no verification, no
audit. ``/stoplive ROOM JOB`` acks with a button; the click acks, stops, posts to the channel.

    python -m bench.bare_app   (reads the same environment variables as stoplive)
"""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import SecretStr
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.metastudio import MetaStudioClient
from bot.metastudio.auth import AkSkAuth


def main() -> None:
    env = os.environ
    project = env["METASTUDIO_PROJECT_ID"]
    metastudio = MetaStudioClient(
        base_url=env["METASTUDIO_ENDPOINT"],
        project_id=project,
        auth=AkSkAuth(
            SecretStr(env["HUAWEICLOUD_SDK_AK"]), SecretStr(env["HUAWEICLOUD_SDK_SK"]), project
        ),
    )
    app = AsyncApp(
        client=AsyncWebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"]),
        signing_secret=env["SLACK_SIGNING_SECRET"],
    )

    @app.command("/stoplive")
    async def command(ack: AsyncAck, command: dict[str, Any]) -> None:
        room, job = command["text"].split()
        value = json.dumps({"room": room, "job": job})
        await ack(
            text=f"Stop {job}?",
            blocks=[
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Stop"},
                            "style": "danger",
                            "action_id": "stoplive.confirm",
                            "value": value,
                        }
                    ],
                }
            ],
        )

    @app.action("stoplive.confirm")
    async def confirm(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        target = json.loads(body["actions"][0]["value"])
        stopped = await metastudio.stop_job(target["room"], target["job"], "bench")
        await client.chat_postMessage(
            channel=body["channel"]["id"],
            text=f"<@{body['user']['id']}> stopped job `{target['job']}` ({stopped.request_id})",
        )

    app.start(port=int(env["PORT"]), path="/slack/events")


if __name__ == "__main__":
    main()
