"""The MetaStudio client: knows HTTP and Huawei Cloud, nothing of Slack."""

from bot.metastudio.client import MetaStudioClient
from bot.metastudio.errors import (
    READ_FAILURES,
    AboutAnotherRoom,
    IamError,
    MetaStudioError,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
)
from bot.metastudio.ids import InvalidId
from bot.metastudio.models import JobState, RoomJobs, SmartLiveJob, SmartLiveRoom, StopAccepted

__all__ = [
    "READ_FAILURES",
    "AboutAnotherRoom",
    "IamError",
    "InvalidId",
    "JobState",
    "MetaStudioClient",
    "MetaStudioError",
    "OutcomeUnknown",
    "RoomJobs",
    "SmartLiveJob",
    "SmartLiveRoom",
    "StopAccepted",
    "Unreachable",
    "UnreadableAnswer",
]
