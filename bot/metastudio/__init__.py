"""The MetaStudio client: knows HTTP and Huawei Cloud, nothing of Slack."""

from bot.metastudio.client import MetaStudioClient
from bot.metastudio.errors import MetaStudioError, OutcomeUnknown, Unreachable
from bot.metastudio.ids import InvalidId
from bot.metastudio.models import JobState, SmartLiveJob, SmartLiveRoom, StopAccepted

__all__ = [
    "InvalidId",
    "JobState",
    "MetaStudioClient",
    "MetaStudioError",
    "OutcomeUnknown",
    "SmartLiveJob",
    "SmartLiveRoom",
    "StopAccepted",
    "Unreachable",
]
