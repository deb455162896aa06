"""RCS with SMS fallback: the SMS attempt prepared from an RCS message, and the submission id that keeps it apart.

An RCS message rendered under ``RCS_WITH_SMS_FALLBACK`` carries ``sms`` (the fallback text) and ``sms_fallback`` (the
SMS sender and how long the RCS attempt may go without a delivery report). Dispatch builds the fallback (attempt 2)
when it submits the RCS attempt, and parks the attempt's deadline (``rcs-deadline``); the receipt stage sends the
fallback, once, when the RCS attempt is reported failed or its deadline comes first. An RCS attempt without a
fallback gets its validity's end as deadline: RBM may never report on a phone that stays offline. Both attempts share
the message id; dispatch's ledger and the provider's client reference use ``submission_id``, so the SMS is a
submission of its own that is never sent twice.

Deadlines are not RCS-only: dispatch parks one on the same topic for every SMS and MMS it hands over too, at its
validity's end plus the provider's report grace (``processors.dispatch.validity``), for the receipt stage to end a
message whose delivery report never came. This module computes the RCS attempt's.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from processors.runtime.stage import Event, Output
from topology.topics import rendered_topic

# Appended to the message id for attempt 2: an HTTP provider echoes it as the client reference of its reports.
SUFFIX = "#sms-fallback"
FALLBACK_ATTEMPT = 2
# The fallback reason of an SMS sent because the RCS attempt's deadline came first (the receipt stage writes it): that
# RCS message may still arrive, so dispatch withdraws it before the SMS goes (``processors.dispatch.revoke``).
NOT_DELIVERED_IN_TIME = "rcs_not_delivered_in_time"


def submission_id(rendered: Event) -> str:
    """The id a rendered message is submitted (and recorded in the ledger) under: the message id, suffixed on the fallback."""
    message_id = rendered["context"]["message_id"]
    return message_id + SUFFIX if rendered.get("attempt", 1) == FALLBACK_ATTEMPT else message_id


def message_id_of(reference: str) -> str:
    """The message id behind a submission id (an HTTP provider's client reference)."""
    return reference.removesuffix(SUFFIX)


def prepared(rendered: Event) -> Event | None:
    """The SMS fallback (attempt 2, ``rendered``'s layout) of an RCS message that has one; None otherwise."""
    fallback = rendered.get("sms_fallback")
    if rendered["channel"] != "RCS" or fallback is None or rendered.get("sms") is None:
        return None
    return {**rendered, "channel": "SMS", "sender": fallback["sender"], "rcs_json": None, "media_urls": [], "sms_fallback": None,
            "fallback_reason": None, "attempt": FALLBACK_ATTEMPT}


def deadline_at(rendered: Event, submitted_at: datetime, validity_end: datetime) -> datetime | None:
    """When an RCS attempt submitted at ``submitted_at`` must have been delivered: its fallback's time, else
    ``validity_end`` (the end of the validity it was submitted with); None for other channels."""
    if rendered["channel"] != "RCS":
        return None
    fallback = rendered.get("sms_fallback")
    if fallback is not None and rendered.get("sms") is not None:  # what ``prepared`` needs, without building the copy
        return submitted_at + timedelta(seconds=fallback["after_s"])
    return validity_end


def send(fallback: Event, reason: str) -> Output:
    """The fallback on its way to dispatch: the lane's ``rendered`` topic, keyed by its SMS sender (whose partition paces it)."""
    return Output(rendered_topic(fallback["context"]["lane"]), fallback["sender"]["sender_id"], {**fallback, "fallback_reason": reason})
