"""The MetaStudio client: knows HTTP and Huawei Cloud, nothing of Slack."""

from bot.metastudio.client import MetaStudioClient
from bot.metastudio.errors import (
    IamError,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
)
from bot.metastudio.ids import InvalidId
from bot.metastudio.models import JobState, SmartLiveJob, SmartLiveRoom, StopAccepted

__all__ = [
    "IamError",
    "InvalidId",
    "JobState",
    "MetaStudioClient",
    "MetaStudioError",
    "OutcomeUnknown",
    "SmartLiveJob",
    "SmartLiveRoom",
    "StopAccepted",
    "Unreachable",
    "UnreadableAnswer",
]
