"""The one gate: commands and clicks are refused for the same reasons, in the same words; and
every refusal it gives, whole: the reason, the audit word, who is told, the audit detail and
the ticket it carries; and each reason phrased as it was. (The second half was written against
mutmut's survivors: a refusal with the right word but the wrong reason, or without its ticket,
would reach Slack and the audit log as it is.)"""

from __future__ import annotations

import time

import pytest

from bot.stopflow.allowlist import Allowlist
from bot.stopflow.command import ListLive, RoomSearch, StopTarget
from bot.stopflow.gate import (
    Admitted,
    AdmittedClick,
    ButtonNotValid,
    Click,
    CommandRequest,
    Expired,
    Gate,
    Help,
    NoStopAllGrant,
    NotAllowlisted,
    NotYours,
    OwnRequest,
    Reason,
    Refusal,
    RequesterRevoked,
    RoomNotGranted,
    Usage,
    WrongChannel,
    WrongPlace,
)
from bot.stopflow.policy import Policy
from bot.stopflow.tickets import ALL, APPROVE_ALL, STOP_ALL, WITHDRAW_ALL, Ticket
from bot.stopflow.words import notices, refusals
from tests import builders
from tests.builders import TICKET_KEY

KEY = TICKET_KEY
ROOM = "24bad716-87b1-45e5-8912-6102f7693265"
OTHER_ROOM = "0f4c7a2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
JOB = "26f06524-4f75-4b3a-a853-b649a21aaf66"
ALICE, BOB, MALLORY = "U0ALICE01", "U0BOB0002", "U0MALLORY"
CONTACT = "the on-call leads"
CHANNELS = frozenset({"C1", "C2"})
TTL = 300
NOW = 1_800_000_000.0


def gate(channels: frozenset[str] = CHANNELS) -> Gate:
    allowlist = Allowlist.from_data(
        {ALICE: "ops-alice", BOB: {"app_user_id": "ops-bob", "rooms": [OTHER_ROOM]}},
        source="test",
    )
    return Gate(Policy(allowlist, CONTACT, TTL, KEY, allowed_channels=channels))


def ticket(
    requester: str = ALICE, channel: str = "C1", room: str = ROOM, now: float = NOW
) -> Ticket:
    return builders.ticket(
        room_id=room, job_id=JOB, requester=requester, channel_id=channel, ttl=TTL, now=now
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
    the_gate = gate()
    command = the_gate.command(CommandRequest(user, channel, f"{room} {JOB}", "https://hooks/y"))
    click = the_gate.click(
        Click(user, channel, ticket(user, channel, room).encode()), "confirm", now=NOW
    )
    if outcome is None:
        assert isinstance(command, Admitted) and isinstance(click, AdmittedClick)
    else:
        assert isinstance(command, Refusal) and isinstance(click, Refusal)
        assert command.outcome == click.outcome == outcome
        assert command.reason == click.reason


def refused_as(result: AdmittedClick | Refusal) -> str:
    assert isinstance(result, Refusal)
    return result.outcome


def test_a_click_is_checked_for_its_ticket_first() -> None:
    the_gate = gate(frozenset())

    def refused(user: str, channel: str, value: str) -> str:
        return refused_as(the_gate.click(Click(user, channel, value), "confirm", now=NOW))

    assert refused(ALICE, "C1", "forged") == "refused_bad_ticket"
    assert refused(BOB, "C1", ticket().encode()) == "refused_not_requester"
    assert refused(ALICE, "C2", ticket().encode()) == "refused_other_channel"
    late = the_gate.click(Click(ALICE, "C1", ticket().encode()), "confirm", now=10**10)
    assert isinstance(late, Refusal) and late.outcome == "expired" and not late.to_clicker


def command(text: str, user: str = ALICE, channel: str = "C1") -> Admitted | Refusal:
    return gate().command(CommandRequest(user, channel, text, "https://hooks/y"))


def test_access_refusals_carry_their_message() -> None:
    assert gate().admit(MALLORY, "C1", ROOM) == Refusal(
        NotAllowlisted(CONTACT), "refused_not_allowlisted"
    )
    assert gate().admit(ALICE, "C9", ROOM) == Refusal(WrongChannel(("C1", "C2")), "refused_channel")
    assert gate().admit(BOB, "C1", ROOM) == Refusal(RoomNotGranted(ROOM, CONTACT), "refused_room")
    granted = gate().admit(BOB, "C1", OTHER_ROOM)
    assert not isinstance(granted, Refusal) and granted.app_user_id == "ops-bob"


def test_a_refusal_names_the_contact_and_the_room() -> None:
    for refusal in (gate().admit(MALLORY, "C1", ROOM), gate().admit(BOB, "C1", ROOM)):
        assert isinstance(refusal, Refusal)
        assert CONTACT in refusals.refusal(refusal.reason).text
    room_refusal = gate().admit(BOB, "C1", ROOM)
    assert isinstance(room_refusal, Refusal)
    assert f"`{ROOM}`" in refusals.refusal(room_refusal.reason).text


def test_a_command_that_cannot_be_read_gets_help_with_the_problem() -> None:
    refused = command(f"{ROOM} {JOB} extra")
    assert refused == Refusal(
        Usage("I expected a room ID and a job ID, but got 3 words."), "usage_error"
    )
    assert "3 words" in str(refusals.refusal(refused.reason).blocks)


def test_plain_help_is_a_refusal_with_nothing_to_record() -> None:
    assert command("help") == Refusal(Help(), "")
    assert command("--help") == Refusal(Help(), "")


def test_an_admitted_command_carries_its_target_and_grant() -> None:
    admitted = command(f"{OTHER_ROOM} {JOB}", user=BOB)
    assert isinstance(admitted, Admitted)
    assert admitted.target == StopTarget(OTHER_ROOM, JOB)
    assert admitted.grant.app_user_id == "ops-bob"


def test_a_list_or_a_search_is_admitted_without_a_room_check() -> None:
    listed = command("list", user=BOB)
    searched = command("spring sale", user=BOB)
    assert isinstance(listed, Admitted) and listed.target == ListLive()
    assert isinstance(searched, Admitted) and searched.target == RoomSearch("spring sale")
    assert listed.grant.rooms == frozenset({OTHER_ROOM})


def test_target_of_reads_only_a_stop_request() -> None:
    def target(text: str) -> StopTarget | None:
        return Gate.target_of(CommandRequest(ALICE, "C1", text, "https://hooks/y"))

    assert target(f"{ROOM} {JOB}") == StopTarget(ROOM, JOB)
    assert target(ROOM) == StopTarget(ROOM, None)
    assert target("help") is None
    assert target("list") is None
    assert target("spring sale") is None
    assert target(f"{ROOM} {JOB} extra") is None


def test_a_click_with_a_bad_value_is_told_to_the_clicker() -> None:
    refused = gate().click(Click(ALICE, "C1", "forged"), "confirm", now=NOW)
    assert refused == Refusal(
        ButtonNotValid(),
        "refused_bad_ticket",
        to_clicker=True,
        detail="not a stoplive ticket",
    )


def test_a_click_by_someone_else_is_told_to_them_and_names_the_requester() -> None:
    issued = ticket()
    refused = gate().click(Click(BOB, "C1", issued.encode()), "confirm", now=NOW)
    assert refused == Refusal(
        NotYours(issued),
        "refused_not_requester",
        to_clicker=True,
        detail=f"requested by {ALICE}",
        ticket=issued,
    )


def test_a_click_in_another_channel_is_told_to_the_clicker() -> None:
    issued = ticket()
    refused = gate().click(Click(ALICE, "C2", issued.encode()), "confirm", now=NOW)
    assert refused == Refusal(
        WrongPlace(issued),
        "refused_other_channel",
        to_clicker=True,
        detail="clicked in C2",
        ticket=issued,
    )


def test_a_late_click_changes_the_requester_message() -> None:
    issued = ticket()
    refused = gate().click(Click(ALICE, "C1", issued.encode()), "confirm", now=NOW + TTL)
    assert refused == Refusal(Expired(issued), "expired", ticket=issued)


def test_a_click_without_a_time_reads_the_clock() -> None:
    fresh, old = ticket(now=time.time()), ticket(now=time.time() - 2 * TTL)
    assert isinstance(gate().click(Click(ALICE, "C1", fresh.encode()), "confirm"), AdmittedClick)
    late = gate().click(Click(ALICE, "C1", old.encode()), "confirm")
    assert isinstance(late, Refusal) and late.outcome == "expired"


def test_a_click_refused_by_access_still_carries_its_ticket() -> None:
    issued = ticket(channel="C9")  # a channel that is no longer allowed
    refused = gate().click(Click(ALICE, "C9", issued.encode()), "confirm", now=NOW)
    assert refused == Refusal(WrongChannel(("C1", "C2")), "refused_channel", ticket=issued)


def test_an_admitted_click_carries_its_ticket_and_grant() -> None:
    issued = ticket(requester=BOB, room=OTHER_ROOM)
    admitted = gate().click(Click(BOB, "C1", issued.encode()), "confirm", now=NOW)
    assert isinstance(admitted, AdmittedClick)
    assert admitted.ticket == issued and admitted.grant.app_user_id == "ops-bob"


def test_a_ticket_sealed_for_another_button_is_refused_like_a_forged_one() -> None:
    picked = ticket().for_purpose("pick", KEY)
    refused = gate().click(Click(ALICE, "C1", picked.encode()), "confirm", now=NOW)
    assert refused == Refusal(
        ButtonNotValid(),
        "refused_bad_ticket",
        to_clicker=True,
        detail="sealed for another button ('pick'), not 'confirm'",
    )
    assert isinstance(
        gate().click(Click(ALICE, "C1", picked.encode()), "pick", now=NOW), AdmittedClick
    )


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        (NotAllowlisted(CONTACT), refusals.not_allowed(CONTACT)),
        (WrongChannel(("C1", "C2")), refusals.wrong_channel(["C2", "C1"])),
        (RoomNotGranted(ROOM, CONTACT), refusals.room_not_granted(ROOM, CONTACT)),
        (Usage("got 3 words"), refusals.help_text("got 3 words")),
        (Help(), refusals.help_text()),
        (ButtonNotValid(), notices.button_not_valid()),
        (NotYours(ticket()), refusals.not_yours(ticket())),
        (WrongPlace(ticket()), notices.wrong_place(ticket())),
        (Expired(ticket()), refusals.expired(ticket())),
    ],
)
def test_each_reason_is_phrased_as_before(reason: Reason, said: object) -> None:
    """The gate decides and the words phrase: each reason still reads as the refusal it was."""
    assert refusals.refusal(reason) == said


# --- /stoplive all: the red button, the approval, the withdrawal -------------------------------

DAVE = "U0DAVE004"


def all_gate(channels: frozenset[str] = CHANNELS, alice_may: bool = True) -> Gate:
    allowlist = Allowlist.from_data(
        {
            ALICE: {"app_user_id": "ops-alice", "stop_all": alice_may},
            DAVE: {"app_user_id": "ops-dave", "stop_all": True},
            BOB: "ops-bob",
        },
        source="test",
    )
    return Gate(Policy(allowlist, CONTACT, TTL, KEY, allowed_channels=channels))


def all_ticket(purpose: str, channel: str = "C1", now: float = NOW) -> Ticket:
    return builders.ticket(
        room_id=ALL, job_id=ALL, channel_id=channel, ttl=TTL, now=now, purpose=purpose
    )


def test_stop_all_without_the_grant_is_refused_naming_the_contact() -> None:
    refused = all_gate().command(CommandRequest(BOB, "C1", "all", "https://hooks/y"))
    assert refused == Refusal(NoStopAllGrant(CONTACT), "refused_no_stop_all")
    assert isinstance(all_gate().command(CommandRequest(ALICE, "C1", "all", "h")), Admitted)


def test_the_red_button_is_the_requesters_own_in_an_allowed_channel() -> None:
    issued = all_ticket(STOP_ALL)
    admitted = all_gate().all_click(Click(ALICE, "C1", issued.encode()), STOP_ALL, now=NOW)
    assert isinstance(admitted, AdmittedClick) and admitted.approved_by == ""
    refused = all_gate().all_click(Click(DAVE, "C1", issued.encode()), STOP_ALL, now=NOW)
    assert isinstance(refused, Refusal) and refused.reason == NotYours(issued)
    moved = all_ticket(STOP_ALL, channel="C9")  # a channel no longer allowed
    refused = all_gate().all_click(Click(ALICE, "C9", moved.encode()), STOP_ALL, now=NOW)
    assert refused == Refusal(WrongChannel(("C1", "C2")), "refused_channel", ticket=moved)


def test_the_requester_may_not_approve_their_own_request() -> None:
    issued = all_ticket(APPROVE_ALL)
    refused = all_gate().all_click(Click(ALICE, "C1", issued.encode()), APPROVE_ALL, now=NOW)
    assert refused == Refusal(
        OwnRequest(issued), "refused_own_request", to_clicker=True, ticket=issued
    )


def test_an_approver_needs_the_grant_and_an_allowed_channel() -> None:
    issued = all_ticket(APPROVE_ALL)
    refused = all_gate().all_click(Click(BOB, "C1", issued.encode()), APPROVE_ALL, now=NOW)
    assert refused == Refusal(
        NoStopAllGrant(CONTACT), "refused_no_stop_all", to_clicker=True, ticket=issued
    )
    moved = all_ticket(APPROVE_ALL, channel="C9")
    refused = all_gate().all_click(Click(DAVE, "C9", moved.encode()), APPROVE_ALL, now=NOW)
    assert isinstance(refused, Refusal) and refused.reason == RequesterRevoked(moved)
    narrowed = all_gate(channels=frozenset({"C9"}))  # the requester may; the approver too
    admitted = narrowed.all_click(Click(DAVE, "C9", moved.encode()), APPROVE_ALL, now=NOW)
    assert isinstance(admitted, AdmittedClick)
    assert (admitted.approved_by, admitted.grant.app_user_id) == (DAVE, "ops-alice")
    assert admitted.approver_grant is not None and admitted.approver_grant.app_user_id == "ops-dave"


def test_an_approval_of_a_requester_whose_grant_is_gone_says_so_to_the_approver() -> None:
    issued = all_ticket(APPROVE_ALL)
    refused = all_gate(alice_may=False).all_click(
        Click(DAVE, "C1", issued.encode()), APPROVE_ALL, now=NOW
    )
    assert refused == Refusal(
        RequesterRevoked(issued), "refused_no_stop_all", to_clicker=True, ticket=issued
    )
    withdraw = all_ticket(WITHDRAW_ALL)
    refused = all_gate(alice_may=False).all_click(
        Click(ALICE, "C1", withdraw.encode()), WITHDRAW_ALL, now=NOW
    )
    assert refused == Refusal(NoStopAllGrant(CONTACT), "refused_no_stop_all", ticket=withdraw)


def test_a_late_approval_is_told_to_the_clicker_a_late_red_button_to_the_requester() -> None:
    approve, confirm = all_ticket(APPROVE_ALL), all_ticket(STOP_ALL)
    late = NOW + TTL
    refused = all_gate().all_click(Click(DAVE, "C1", approve.encode()), APPROVE_ALL, now=late)
    assert refused == Refusal(Expired(approve), "expired", to_clicker=True, ticket=approve)
    refused = all_gate().all_click(Click(ALICE, "C1", confirm.encode()), STOP_ALL, now=late)
    assert refused == Refusal(Expired(confirm), "expired", ticket=confirm)
    fresh = all_ticket(APPROVE_ALL, now=time.time())  # valid by the clock, late by ``now``
    refused = all_gate().all_click(
        Click(DAVE, "C1", fresh.encode()), APPROVE_ALL, now=time.time() + TTL + 1
    )
    assert isinstance(refused, Refusal) and refused.outcome == "expired"
