"""The status stage: ``receipt`` → ``message-status`` (a message's current status, cost and history) and
``campaign-status`` (a campaign's counts per receipt partition), for the HTTP intake's GET routes and the live
dashboard; ``conversions`` → the campaign's conversion counts per conversions partition (rows of their own).

It never blocks: two table lookups and two writes per receipt. Each ``campaign-status`` row covers the receipts of
one partition, so only the instance owning that partition writes it; the reader adds the partitions' rows up.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from processors.runtime.stage import Event, Output, RecordMeta, each_alone
from processors.status.logic import campaign_key, conversions_key, converted, counted, project, view_id
from processors.status.rows import OwnWrites


class StatusStage:
    """Projects each receipt into its message's row and, for a campaign's message, the campaign's counts (for a
    transactional message without a campaign, its flow's: ``logic.view_id``).

    ``messages`` and ``campaigns`` are the ``message-status`` and ``campaign-status`` tables (every instance's writes
    as read back from the topics)."""

    name = "status"
    inputs = ("receipt", "conversions")

    def __init__(self, messages: Mapping[str, Event], campaigns: Mapping[str, Event]) -> None:
        self._messages = OwnWrites("message-status", messages)
        self._campaigns = OwnWrites("campaign-status", campaigns)

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        if meta.topic == "conversions":
            return self._conversion(event, meta)
        message_id = event["context"]["message_id"]
        before = self._messages.get(message_id)
        after = project(before, event, meta.now)
        if after is None:  # already applied: the same receipt written twice, or read again
            return []
        campaign_id = view_id(event["context"])
        key = campaign_key(campaign_id, meta.partition) if campaign_id else None
        counts = counted(self._campaigns.get(key), before, after, event, meta.partition, meta.now) if key else None
        outputs = [self._messages.put(message_id, after)]  # written only once nothing can fail: an error writes neither
        if key is not None and counts is not None:
            outputs.append(self._campaigns.put(key, counts))
        return outputs

    def _conversion(self, event: Event, meta: RecordMeta) -> list[Output]:
        """A conversion attributed to a campaign counts on the campaign's row of its ``conversions`` partition."""
        if not event.get("campaign_id"):
            return []
        key = conversions_key(event["campaign_id"], meta.partition)
        return [self._campaigns.put(key, converted(self._campaigns.get(key), event, meta.partition, meta.now))]

    def process_batch(self, items: Sequence[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        """Each receipt in order (a batch's earlier writes seen by its later receipts); one receipt's error is its own."""
        self._messages.batch_started()
        self._campaigns.batch_started()
        return each_alone(self.process, items)

    def batch_aborted(self) -> None:
        """The batch's records will be read again: forget what it wrote, so they are applied again, not skipped."""
        self._messages.batch_aborted()
        self._campaigns.batch_aborted()
