"""The ``FAILED`` receipt written beside a message's dead-letter record, so the receipt topic never misses a message.

The stages on a message's path before dispatch (consent, channel, render) read one record per message: when the
runtime dead-letters such a record (the stage raised, or its retries ran out), the message will go no further, and
this is its terminal outcome, with the stage and the error as reason and detail. Dispatch does not use it: a record it
gives up on may be a second copy of a message already handed over (its ledger answers that one). Stages that read
reports about a message (receipt) do not use it either: a bad report does not end its message.
"""
from __future__ import annotations

from processors.receipts import receipt
from processors.runtime.stage import Event, Output, RecordMeta

REASON = "dead_lettered"


def beside_dead_letter(stage: str, event: Event, error: BaseException, meta: RecordMeta) -> list[Output]:
    """One terminal ``FAILED`` receipt (reason ``dead_lettered``) for the message ``event`` is about, if it names one."""
    context = event.get("context")
    recipient = event.get("recipient")
    if not isinstance(context, dict) or not context.get("message_id") or recipient is None:
        return []
    number = recipient.get("e164") if isinstance(recipient, dict) else recipient
    detail = f"{stage} sent the record to dead-letter: {type(error).__name__}: {error}"[:1000]
    return [receipt(context, str(number), "FAILED", stage, meta.now, reason=REASON, detail=detail)]
