"""Every action ID stoplive's buttons carry, in one place: the listeners route on them and
the words put them on buttons (the Home view's callback ID too). What a button's *value*
holds is a sealed ticket (:mod:`bot.stopflow.tickets`) or a job reference
(:mod:`bot.stopflow.buttons`)."""

from __future__ import annotations

CONFIRM_ACTION = "stoplive.confirm"
CANCEL_ACTION = "stoplive.cancel"
PICK_ACTION = "stoplive.pick"  # a "Stop…" button (to a confirmation): its value is what the caller gave (a ticket)
OPEN_CONSOLE_ACTION = "stoplive.open_console"  # a link button; Slack still sends the click
CHECK_AGAIN_ACTION = "stoplive.check_again"
STOP_AGAIN_ACTION = "stoplive.stop_again"  # "Stop again", and a stream watch note's "Stop…"
HOME_ACTION = "stoplive.home"  # the Home view's callback_id
STOP_ALL_ACTION = "stoplive.stop_all"  # /stoplive all's red button (a confirm dialog first)
APPROVE_ALL_ACTION = "stoplive.approve_all"  # two-person: a second person's approval
WITHDRAW_ALL_ACTION = "stoplive.withdraw_all"  # two-person: the requester cancels the request
