"""The topology: every topic Courrier uses, declared once.

A topic's value schema is the name of a file in ``schemas/`` or ``None`` for topics that carry
another topic's original bytes (delay topics and the dead-letter topic). Keys are always strings.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Topic:
    """One topic: its logical name, what its key is, its value schema and how the broker keeps it."""

    name: str
    key: str
    value_schema: str | None
    owner: str
    readers: tuple[str, ...]
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False
    partitions: int | None = None
    # Rows are partitioned by the key's number (the part before "|"), as the requests about that number are: an
    # instance then holds only the rows of the partitions it reads (topology.partitioning).
    by_number: bool = False

    @property
    def cleanup_policy(self) -> str:
        """Compacted topics with a retention also delete old segments: the latest value per key, for a bounded time."""
        if not self.compacted:
            return "delete"
        return "compact" if self.retention_ms < 0 else "compact,delete"


TOPICS: tuple[Topic, ...] = (
    Topic("send-requested", "recipient as given", "SendRequested", "upstream apps, HTTP ingest, auto-replies", ("consent",)),
    Topic("consent-checked", "E.164", "ConsentChecked", "consent", ("channel",)),
    Topic("channel-resolved", "E.164", "ChannelResolved", "channel", ("render",)),
    Topic("rendered", "sender id", "Rendered", "render", ("dispatch",)),
    # The transactional lane (OTP, alerts): a topic of its own at every hop of the chain, read by a consumer of its own in
    # each stage, so an OTP never queues behind a campaign (TRANSACTIONAL_LANE below).
    Topic("send-requested-transactional", "recipient as given", "SendRequested", "HTTP ingest, the client, auto-replies "
          "(transactional lane)", ("consent",)),
    Topic("consent-checked-transactional", "E.164", "ConsentChecked", "consent (transactional lane)", ("channel",)),
    Topic("channel-resolved-transactional", "E.164", "ChannelResolved", "channel (transactional lane)", ("render",)),
    Topic("rendered-transactional", "sender id", "Rendered", "render (transactional lane)", ("dispatch",)),
    # Keyed by message id, as rcs-deadline and message-state are: a message's records meet on one partition, so the one
    # receipt instance reading it owns the message's state (processors/receipt/stage.py).
    Topic("dispatched", "message id", "Dispatched", "dispatch", ("receipt", "analytics")),
    Topic("receipt", "E.164", "Receipt", "every stage (terminal outcomes), receipt", ("analytics", "fallback"), retention_ms=30 * DAY_MS),
    Topic("consent", "E.164|subscription group", "ConsentChange", "keyword handler, API, imports, dispatch (a provider's unsubscribed refusal)", ("consent",), retention_ms=-1, compacted=True,
          by_number=True),
    Topic("consent-history", "E.164", "ConsentChange", "keywords, API, imports, dispatch", ("operators", "audits"), retention_ms=-1),
    # Numbers erased on request (courrier consent forget), keyed by a salted hash, never the number: kept forever.
    Topic("suppressions", "sha256(salt|E.164)", "Suppression", "courrier consent forget", ("consent",), retention_ms=-1, compacted=True),
    Topic("inbound", "E.164", "InboundMessage", "webhook receiver, dispatch (SMPP deliver_sm)", ("keywords",)),
    Topic("provider-events", "provider message id", "ProviderEvent", "webhook receiver, dispatch (SMPP receipts)", ("receipt",)),
    Topic("retry", "as input", None, "runtime (transient failures)", ("scheduler",)),
    Topic("scheduled", "as input", None, "consent (quiet hours, send_at), dispatch (pacing): the marketing lane", ("scheduler",)),
    # The transactional lane's deferrals (a paced OTP, a send_at alert) apart from `scheduled`: a scheduler holding a
    # campaign deferred overnight pauses `scheduled`, never this one.
    Topic("scheduled-transactional", "as input", None, "consent (send_at), dispatch (pacing): the transactional lane",
          ("scheduler",)),
    # Deadlines apart from `scheduled`: a campaign deferred overnight can fill the scheduler's memory and pause `scheduled`,
    # and an RCS message's SMS fallback must not wait for the morning behind it.
    Topic("timers", "as input", None, "dispatch (RCS deadlines)", ("scheduler",)),
    # Which delay records the scheduler has released (key: delay topic:partition:offset), written in the release's own
    # transaction: a restarted scheduler reads again from below the lowest record still held, and skips these instead of
    # releasing them twice. Longer than any record may be held (a validity is at most 7 days).
    Topic("scheduler-released", "delay topic:partition:offset", None, "scheduler", ("scheduler",), retention_ms=8 * DAY_MS,
          compacted=True),
    Topic("dead-letter", "original key", None, "runtime", ("operators",), retention_ms=30 * DAY_MS),
    # What `courrier dlq` did with a dead-letter record (requeued, purged; dead-letter itself is not compacted): list hides
    # it, requeue never sends it twice. A day longer than dead-letter keeps its records.
    Topic("dead-letter-handled", "dead-letter partition:offset", None, "courrier dlq (requeue, purge)", ("courrier dlq",),
          retention_ms=31 * DAY_MS, compacted=True),
    # Provider reports no message was found for after their last retry (processors/receipt/stage.py): kept as long as
    # dead-letter records, for an operator to inspect and requeue to provider-events.
    Topic("unmatched-reports", "provider message id", "ProviderEvent", "receipt", ("operators",), retention_ms=30 * DAY_MS),
    # Keys matter for the dedupe window (24 h by default) only: two days bound the topic and every instance's table.
    Topic("idempotency", "idempotency key", "IdempotencyRecord", "intake/consent", ("intake/consent",), retention_ms=2 * DAY_MS, compacted=True),
    # Longer than any input topic keeps records (7 days), so no replay can reach a message the ledger has forgotten.
    Topic("submissions", "message id", "SubmissionRecord", "dispatch", ("dispatch", "replay"), retention_ms=30 * DAY_MS, compacted=True),
    Topic("campaigns", "campaign id", "CampaignControl", "campaign CLI/API (start, cancel)", ("dispatch",), retention_ms=-1, compacted=True),
    # Frequency caps look back at most 30 days (processors/consent/frequency.py): a record unwritten for 31 is of no use.
    Topic("frequency", "E.164|subscription group", "FrequencyRecord", "consent", ("consent",), retention_ms=31 * DAY_MS, compacted=True,
          by_number=True),
    Topic("conversions", "message id / link token", "Conversion", "conversion API",
          ("analytics", "consent (fraud guard, when on)", "status (conversions per campaign)")),
    # Which conversion ids POST /v1/conversions has recorded, with the attribution it answered: a replay gets that answer.
    Topic("conversion-ids", "conversion id", "Conversion", "conversion API", ("conversion API",), retention_ms=90 * DAY_MS, compacted=True),
    # Reports arrive within a message's validity (at most 7 days): a day more bounds the topic and every receipt instance's table.
    Topic("message-state", "message id", "MessageState", "receipt", ("receipt",), retention_ms=8 * DAY_MS, compacted=True),
    # Which message a provider's id belongs to, for a report that names only that id (an SMPP receipt): written by the
    # receipt instance that owns the message, read whole by every instance (reports are keyed by the provider's id).
    Topic("provider-ids", "provider|provider message id", None, "receipt", ("receipt",), retention_ms=8 * DAY_MS, compacted=True),
    # An RCS attempt's deadline, parked in `scheduled` until due: the receipt stage then sends the SMS fallback if it was not
    # delivered (RBM may never report on a phone that stays offline; an SMSC always reports at the end of the validity).
    Topic("rcs-deadline", "message id", "RcsDeadline", "dispatch (RCS attempts), through the scheduler", ("receipt",),
          retention_ms=8 * DAY_MS),
    # Short links must answer as long as a message can be read; after 90 days a click finds a 404 page.
    Topic("links", "link token", "ShortLink", "render", ("links",), retention_ms=90 * DAY_MS, compacted=True),
    # Kept forever: revoked keys stay (with revoked_at) so an api_key_id on an old event still names its holder.
    Topic("api-keys", "API key id", "ApiKey", "courrier keys (create, revoke)", ("HTTP APIs (access guard)", "courrier keys list"),
          retention_ms=-1, compacted=True),
    # Template versions (processors/templates_store): every version kept, forever; the latest published is read from them.
    Topic("templates", "template id@version", "TemplateVersion", "courrier templates, the intake's /v1/templates and studio",
          ("render", "intake"), retention_ms=-1, compacted=True),
    Topic("api-key-usage", "API key id", "ApiKeyUsage", "HTTP APIs (access guard)", ("courrier keys list",), retention_ms=-1, compacted=True),
    # A message's status as its receipts tell it (processors/status): as long as its receipts are kept.
    Topic("message-status", "message id", "MessageStatus", "status", ("HTTP intake (GET /v1/messages/{id})",), retention_ms=30 * DAY_MS,
          compacted=True),
    # One writer per row (the status instance owning that receipt partition); campaigns' counts are kept as long as campaigns.
    Topic("campaign-status", "campaign id|receipt partition", "CampaignStatus", "status", ("HTTP intake (GET /v1/campaigns/{id})",),
          retention_ms=-1, compacted=True),
    # Receipts to POST to status callbacks; retries wait in `retry` (DELAY_TOPICS) for at most callbacks' retry window (24 h).
    Topic("callbacks", "message id", "CallbackDelivery", "callbacks (from receipt, and its retries)", ("callbacks",), retention_ms=2 * DAY_MS),
    Topic("callback-failed", "message id", "CallbackDelivery", "callbacks (a receipt refused for its whole retry window)", ("operators",),
          retention_ms=30 * DAY_MS),
)

BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}

# Priority lanes: a transactional message's records take its lane's own topic at every hop of the chain (the runtime
# routes each output by its value's ``context.lane``: ``lane_topic``), and each chain stage reads them with a consumer of
# its own (``lane_inputs``), so an OTP never queues behind a campaign. Marketing keeps the chain's first topics.
TRANSACTIONAL_LANE = {"send-requested": "send-requested-transactional", "consent-checked": "consent-checked-transactional",
                      "channel-resolved": "channel-resolved-transactional", "rendered": "rendered-transactional"}
LANE_TOPICS = {"TRANSACTIONAL": "rendered-transactional", "MARKETING": "rendered"}


# Delay topics by the topic a delayed record is for (``Output.deliver_at``); the others wait in their lane's.
DELAY_TOPICS = {"rcs-deadline": "timers", "rendered-transactional": "scheduled-transactional", "callbacks": "retry"}
LANE_DELAY_TOPICS = {"TRANSACTIONAL": "scheduled-transactional", "MARKETING": "scheduled"}


def delay_topic(target: str, value: Mapping[str, Any] | None = None) -> str:
    """The delay topic a record for ``target`` waits in until it is due: deadlines in ``timers``, the rest in the
    delay topic of the lane named by ``value``'s context (``scheduled`` for marketing and records without a lane)."""
    found = DELAY_TOPICS.get(target)
    if found is not None:
        return found
    lane = ((value or {}).get("context") or {}).get("lane")
    return LANE_DELAY_TOPICS.get(lane, "scheduled")


def lane_topic(logical: str, value: Any) -> str:
    """Where a record for ``logical`` goes in the lane of ``value``'s context: a transactional message's own topic of a
    hop of the chain; ``logical`` itself for marketing, records without a lane and topics outside the chain."""
    lane_variant = TRANSACTIONAL_LANE.get(logical)
    if lane_variant is None or not isinstance(value, Mapping):
        return logical
    context = value.get("context")
    return lane_variant if isinstance(context, Mapping) and context.get("lane") == "TRANSACTIONAL" else logical


def lane_inputs(inputs: tuple[str, ...], lane: str | None) -> tuple[str, ...]:
    """A chain stage's inputs in ``lane``: marketing reads the chain's topics and every other input; the transactional lane
    reads its own topic of each hop only (another input, e.g. ``conversions``, is read once, by the marketing lane);
    without a lane (one runner serving every lane) both."""
    transactional = tuple(TRANSACTIONAL_LANE[name] for name in inputs if name in TRANSACTIONAL_LANE)
    if lane is None:
        return inputs + transactional
    return inputs if lane == "MARKETING" else transactional


def rendered_topic(lane: str) -> str:
    """The ``rendered`` topic of a ``courrier.Lane`` (render writes there, that lane's dispatch consumer reads it)."""
    return LANE_TOPICS[lane]


def topic(name: str) -> Topic:
    """The declaration of a logical topic; a clear error for a name that is not declared."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"topic {name!r} is not declared in topology/topics.py") from None


def subject(physical_topic: str) -> str:
    """Registry subject of a topic's value (Confluent's TopicNameStrategy)."""
    return f"{physical_topic}-value"
