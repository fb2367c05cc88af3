"""The one gate: commands and clicks are refused for the same reasons, in the same words."""

from __future__ import annotations

import pytest

from bot.stopflow.allowlist import Allowlist
from bot.stopflow.gate import Admitted, AdmittedClick, Click, CommandRequest, Gate, Refusal
from bot.stopflow.policy import Policy
from bot.stopflow.tickets import Ticket, TicketKey

KEY = TicketKey.from_signing_secret("gate-test-secret")
ROOM = "24bad716-87b1-45e5-8912-6102f7693265"
OTHER_ROOM = "9d1f0c2e-0000-4000-8000-00000000abcd"
JOB = "26f06524-4f75-4b3a-a853-b649a21aaf66"
ALICE, BOB, MALLORY = "U0ALICE01", "U0BOB0002", "U0MALLORY"


def policy(channels: frozenset[str] = frozenset()) -> Policy:
    allowlist = Allowlist.from_data(
        {ALICE: "ops-alice", BOB: {"app_user_id": "ops-bob", "rooms": [OTHER_ROOM]}},
        source="test",
    )
    return Policy(allowlist, "the leads", 300, KEY, allowed_channels=channels)


def ticket(requester: str = ALICE, channel: str = "C1", room: str = ROOM) -> Ticket:
    return Ticket.issue(
        key=KEY,
        room_id=room,
        job_id=JOB,
        requester=requester,
        channel_id=channel,
        ttl=300,
        response_url="https://hooks/x",
    )


@pytest.mark.parametrize(
    ("user", "channel", "room", "outcome"),
    [
        (ALICE, "C1", ROOM, None),
        (MALLORY, "C1", ROOM, "refused_not_allowlisted"),
        (BOB, "C1", ROOM, "refused_room"),
        (BOB, "C1", OTHER_ROOM, None),
        (ALICE, "C9", ROOM, "refused_channel"),
    ],
)
def test_commands_and_clicks_share_one_check(
    user: str, channel: str, room: str, outcome: str | None
) -> None:
    gate = Gate(policy(frozenset({"C1", "C2"})))
    command = gate.command(CommandRequest(user, channel, f"{room} {JOB}", "https://hooks/y"))
    click = gate.click(Click(user, channel, ticket(user, channel, room).encode()), "confirm")
    if outcome is None:
        assert isinstance(command, Admitted) and isinstance(click, AdmittedClick)
    else:
        assert isinstance(command, Refusal) and isinstance(click, Refusal)
        assert command.outcome == click.outcome == outcome
        assert command.reply == click.reply


def refused_as(result: AdmittedClick | Refusal) -> str:
    assert isinstance(result, Refusal)
    return result.outcome


def test_a_click_is_checked_for_its_ticket_first() -> None:
    gate = Gate(policy())
    assert refused_as(gate.click(Click(ALICE, "C1", "forged"), "confirm")) == "refused_bad_ticket"
    assert (
        refused_as(gate.click(Click(BOB, "C1", ticket().encode()), "confirm"))
        == "refused_not_requester"
    )
    assert (
        refused_as(gate.click(Click(ALICE, "C2", ticket().encode()), "confirm"))
        == "refused_other_channel"
    )
    late = gate.click(Click(ALICE, "C1", ticket().encode()), "confirm", now=10**10)
    assert isinstance(late, Refusal) and late.outcome == "expired" and not late.to_clicker
