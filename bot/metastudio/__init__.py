"""The MetaStudio client: knows HTTP and Huawei Cloud, nothing of Slack."""

from bot.metastudio.client import MetaStudioClient
from bot.metastudio.errors import (
    CALL_FAILURES,
    READ_FAILURES,
    AboutAnotherRoom,
    IamError,
    MetaStudioError,
    MetaStudioFailure,
    OutcomeUnknown,
    Unreachable,
    UnreadableAnswer,
    UnusableAnswer,
    describe,
)
from bot.metastudio.ids import InvalidId
from bot.metastudio.models import JobState, RoomJobs, SmartLiveJob, SmartLiveRoom, StopAccepted

__all__ = [
    "CALL_FAILURES",
    "READ_FAILURES",
    "AboutAnotherRoom",
    "IamError",
    "InvalidId",
    "JobState",
    "MetaStudioClient",
    "MetaStudioError",
    "MetaStudioFailure",
    "OutcomeUnknown",
    "RoomJobs",
    "SmartLiveJob",
    "SmartLiveRoom",
    "StopAccepted",
    "Unreachable",
    "UnreadableAnswer",
    "UnusableAnswer",
    "describe",
]
