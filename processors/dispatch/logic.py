"""Pure dispatch decisions: what to submit, when a message's time is up, and what a provider's answer or report turns into.

Every message ends: one a provider refuses for good ends ``failed``; one no provider takes (all down, throttling,
transient refusals) is retried until its validity ends (``TransientError.retry_until``), then ends ``expired``; one
handed over parks a deadline (``rcs-deadline``) for the receipt stage to end it if no report comes.
"""
from __future__ import annotations

import json
from datetime import datetime

from common.errors import TransientError
from processors import fallback
from processors.rules.consent import consent_key
from processors.dispatch.provider import CONNECTION_LOST, TIMEOUT, DeliveryReport, InboundSms, Submission, SubmitResult
from processors.dispatch.router import NO_PROVIDER
from processors.dispatch.validity import Validity
from processors.receipts import receipt
from processors.rules.replay import FORCED_RESEND
from processors.runtime.stage import Event, Output

STAGE = "dispatch"
# A provider's refusal reasons that mean the recipient unsubscribed at the provider (processors/providers/*/statuses.py).
UNSUBSCRIBED_REASONS = frozenset({"recipient_unsubscribed"})


def plan(event: Event, now: datetime, channels: frozenset[str], validity: Validity) -> Submission | Output:
    """The submission for a rendered message (valid on the network until ``Validity.on_network``), or the terminal
    receipt when no configured provider sends its channel."""
    recipient = event["recipient"]["e164"]
    channel = event["channel"]
    sms = event.get("sms")
    if channel not in channels or sms is None:
        return receipt(event["context"], recipient, "FAILED", STAGE, now, reason="no_provider_for_channel",
                       detail=f"no configured provider sends {channel}", channel=channel)
    return Submission(
        message_id=fallback.submission_id(event), sender_id=event["sender"]["sender_id"], sender_type=event["sender"]["type"],
        destination=recipient, text=sms["text"], encoding=sms["encoding"], channel=channel, rcs_json=event.get("rcs_json"),
        media_urls=tuple(event.get("media_urls") or ()), expires_at=validity.on_network(event, now),
    )


def expired(event: Event, now: datetime, retried: bool, previous: Event | None, validity: Validity) -> Output | None:
    """The ``EXPIRED`` receipt of a message whose time is up before a provider took it; None while it may still go.

    ``no_provider_available``: the record came back from the retry topic (``retried``), no provider ever took a submit
    of it (``previous``, its ledger record, is None: its retries were for want of a provider) and its retry window
    (``Validity.retry_until``) is over. Otherwise, past its ``expires_at``: ``validity_elapsed`` (held by quiet hours,
    pacing, or retries after transient refusals). The ledger stands for the last error because the delay topics do not
    carry the error back with the record."""
    recipient, channel = event["recipient"]["e164"], event["channel"]
    until = validity.retry_until(event)
    if retried and previous is None and until <= now:
        return receipt(event["context"], recipient, "EXPIRED", STAGE, now, reason=NO_PROVIDER,
                       detail=f"no provider could take it before its validity ended at {until.isoformat()}", channel=channel)
    expires_at = event.get("expires_at")
    if expires_at is not None and expires_at <= now:
        return receipt(event["context"], recipient, "EXPIRED", STAGE, now, reason="validity_elapsed",
                       detail=f"validity ended at {expires_at.isoformat()} before submission", channel=channel)
    return None


def dispatched(event: Event, provider: str, result: SubmitResult, now: datetime, validity: Validity) -> Event:
    """The ``dispatched`` value for an accepted submission; an RCS attempt with an SMS fallback carries it, and its deadline."""
    return {
        "context": event["context"], "recipient": event["recipient"], "channel": event["channel"],
        "fallback_reason": event.get("fallback_reason"), "sender": event["sender"], "provider": provider,
        "provider_message_ids": list(result.provider_message_ids),
        "segments": max(len(result.provider_message_ids), (event.get("sms") or {}).get("segments", 1)),
        "submitted_at": now,
        "fallback": fallback.prepared(event),
        "rcs_deadline_at": fallback.deadline_at(event, now, validity.on_network(event, now)),
    }


def announced(event: Event, provider: str, result: SubmitResult, now: datetime, validity: Validity) -> list[Output]:
    """An accepted submission's records: ``dispatched``, and its deadline, parked in the scheduler until due.

    RCS: ``fallback.deadline_at`` (the receipt stage then sends the SMS fallback, or expires the message, if the RCS
    message was not delivered). SMS and MMS: the end of their validity plus the provider's report grace
    (``Validity.report_due``; the receipt stage then ends a message still without an outcome ``UNKNOWN``). ``now`` is
    the submit's time, the ledger's on a re-announcement, so the same submission always parks the same deadline."""
    value = dispatched(event, provider, result, now, validity)
    outputs = [Output("dispatched", event["context"]["message_id"], value)]
    due = value["rcs_deadline_at"] if event["channel"] == "RCS" else validity.report_due(event, provider, now)
    if due is not None:
        message_id = event["context"]["message_id"]
        outputs.append(Output("rcs-deadline", message_id, {"message_id": message_id, "provider": provider,
                                                            "provider_message_ids": value["provider_message_ids"], "due_at": due},
                              deliver_at=due))
    return outputs


def outcome(event: Event, provider: str, result: SubmitResult, now: datetime, validity: Validity) -> list[Output] | TransientError:
    """Accepted → ``dispatched``; permanent refusal → ``failed`` receipt (of an RCS attempt with an SMS fallback: a
    receipt that is not terminal, and the fallback at once); transient → retried until the retry window ends
    (``Validity.retry_until``; then ``expired``), so a throttling or failing provider never fails a message."""
    recipient = event["recipient"]["e164"]
    if result.accepted:
        return announced(event, provider, result, now, validity)
    if result.transient:
        return TransientError(f"{provider} did not accept {result.message_id} yet: {result.detail or result.error_code}",
                              retry_until=validity.retry_until(event))
    sms = fallback.prepared(event)
    if sms is not None:
        return [receipt(event["context"], recipient, "FAILED", STAGE, now, reason=result.detail or "provider_rejected",
                        detail=f"{provider} answered {result.error_code}; the SMS fallback is on its way", channel=event["channel"],
                        provider=provider, provider_status=result.error_code, terminal=False),
                fallback.send(sms, "rcs_rejected")]
    return [receipt(event["context"], recipient, "FAILED", STAGE, now, reason=result.detail or "provider_rejected",
                    detail=f"{provider} answered {result.error_code}", channel=event["channel"], provider=provider,
                    provider_status=result.error_code), *unsubscribed(event, provider, result, now)]


def resent(outputs: list[Output], replay_id: str | None) -> list[Output]:
    """A forced resend's outputs (``courrier replay --force``), each accepted submission with a ``SENT`` receipt saying it
    was sent again on purpose: the receipt stage writes none for an attempt of a message that already has its outcome."""
    notes = [receipt(o.value["context"], o.value["recipient"]["e164"], "SENT", STAGE, o.value["submitted_at"], reason=FORCED_RESEND,
                     detail=f"sent again by replay {replay_id} (--force) although the ledger says it was handed over before",
                     event_id=f"replay:{replay_id}", channel=o.value["channel"], provider=o.value["provider"],
                     provider_message_id=(o.value["provider_message_ids"] or [None])[0], segments=o.value["segments"])
             for o in outputs if o.topic == "dispatched" and isinstance(o.value, dict)]
    return [*outputs, *notes]


def unsubscribed(event: Event, provider: str, result: SubmitResult, now: datetime) -> list[Output]:
    """The opt-out a provider's refusal proves (Twilio 21610: the recipient texted STOP to this sender there), written
    to ``consent`` and ``consent-history`` for the message's subscription group, so the next campaign is suppressed
    here instead of refused there. None for other refusals, or for a message that names no group (transactional)."""
    group = event["context"].get("subscription_group")
    if result.detail not in UNSUBSCRIBED_REASONS or not group:
        return []
    e164 = event["recipient"]["e164"]
    change: Event = {"e164": e164, "subscription_group": group, "status": "OPTED_OUT", "basis": "MARKETING", "source": "provider",
                     "evidence": json.dumps({"provider": provider, "error_code": result.error_code, "message_id": result.message_id,
                                             "sender_id": event["sender"]["sender_id"]}, sort_keys=True),
                     "changed_at": now}
    return [Output("consent", consent_key(e164, group), change), Output("consent-history", e164, change)]


def report_event(report: DeliveryReport, dispatched_event: Event | None) -> Output:
    """The ``provider-events`` record of a delivery report, with the dispatched message when this process knows it."""
    return Output("provider-events", report.provider_message_id, {
        "provider": report.provider, "provider_message_id": report.provider_message_id, "kind": "DELIVERY_REPORT",
        "raw_status": report.raw_status, "error_code": report.error_code, "raw": report.raw_text,
        "occurred_at": report.received_at, "dispatched": dispatched_event,
    })


def inbound_event(message: InboundSms) -> Output:
    """The ``inbound`` record of a mobile-originated message."""
    return Output("inbound", message.from_number, {
        "from_e164": message.from_number, "to_sender_id": message.to_sender, "text": message.text, "media_urls": [],
        "provider": message.provider, "provider_message_id": None, "received_at": message.received_at,
    })


# Transient answers after which the provider may or may not have the message: never submit those again.
UNKNOWN_OUTCOMES = frozenset({TIMEOUT, CONNECTION_LOST})


def ledger_record(message_id: str, state: str, provider: str, ids: list[str], previous: Event | None, now: datetime) -> Event:
    """A ``submissions`` record; the attempt counts the submits tried for this message."""
    attempt = (previous["attempt"] if previous else 0) + (1 if state == "SUBMITTING" else 0)
    return {"message_id": message_id, "state": state, "provider": provider, "provider_message_ids": ids,
            "attempt": max(attempt, 1), "updated_at": now}


def ledger_output(record: Event) -> Output:
    """A ``submissions`` record as an output of the batch (it becomes durable when the batch commits)."""
    return Output("submissions", record["message_id"], record)


def after_answer(result: SubmitResult) -> str | None:
    """The ledger state an answer leads to; None keeps SUBMITTING (the outcome is unknown)."""
    if result.accepted:
        return "SUBMITTED"
    if result.transient and (result.detail or "") in UNKNOWN_OUTCOMES:
        return None
    return "FAILED"


def from_ledger(event: Event, record: Event, now: datetime, validity: Validity) -> list[Output]:
    """A message the ledger says was already handed over: re-announce it if accepted, never submit it again."""
    recipient = event["recipient"]["e164"]
    if record["state"] == "SUBMITTED":
        accepted = SubmitResult(record["message_id"], True, list(record["provider_message_ids"]), None, False, None)
        return announced(event, record["provider"], accepted, record["updated_at"], validity)
    return [receipt(event["context"], recipient, "FAILED", STAGE, now, reason="submission_outcome_unknown",
                    detail=f"a submit to {record['provider']} (attempt {record['attempt']}) got no answer; not submitted again",
                    channel=event["channel"], provider=record["provider"])]
