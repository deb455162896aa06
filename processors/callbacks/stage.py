"""The callbacks stage: ``receipt`` → ``callbacks`` (a receipt to POST), ``callbacks`` → one signed POST per record.

Reading a receipt only writes a record, so the receipt input never waits on a receiver. POSTs run on a thread pool,
``concurrency`` at once, each bounded by ``timeout_s``; one message's receipts go one after the other in the order
read, so a receiver sees ``sent`` before ``delivered`` (a receipt waiting for a retry does not hold the later ones
back: a receiver orders by ``occurred_at``). A refused try is written again, delayed, through ``retry``
(``logic.after_failure``), so a receiver that is down costs one delay record per try, never a blocked batch.

A delivery that cannot be signed (its key has no callback secret, or is unknown) is dead-lettered, never sent
unsigned. Exactly once per receipt id, as far as this instance can tell: a receipt id answered 2xx is remembered (the last
``remember`` of them) and never POSTed again, even when its batch is read again after a crash. Across a crash of
the instance itself a receipt may be POSTed twice; ``Courrier-Receipt-Id`` lets the receiver drop the copy.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import Counter

from common.errors import CourrierError
from processors.callbacks.logic import after_failure, delivery
from processors.callbacks.sender import CallbackSender, TryFailed
from processors.callbacks.settings import CallbackSettings
from processors.callbacks.signing import RECEIPT_ID_HEADER, SIGNATURE_HEADER, sign
from processors.runtime.stage import Event, Output, RecordMeta, each_alone

log = logging.getLogger(__name__)
TRIES = Counter("courrier_callback_tries", "Status callback POSTs by outcome (delivered, retried, failed: callback-failed)",
                ["outcome"])


class Unsignable(CourrierError):
    """A delivery whose API key has no callback secret (or is unknown): dead-lettered, never sent unsigned."""


class CallbacksStage:
    """Turns receipts into deliveries and deliveries into signed POSTs; ``keys`` is the ``api-keys`` table (secrets)."""

    name = "callbacks"
    inputs = ("receipt", "callbacks")

    def __init__(self, keys: Mapping[str, Event], sender: CallbackSender, settings: CallbackSettings, remember: int = 100_000) -> None:
        self._keys = keys
        self._sender = sender
        self._settings = settings
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="callback")
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()  # the pool's threads share the remembered ids

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        return self.process_batch([(event, meta)])[0]  # type: ignore[return-value]

    def process_batch(self, items: Sequence[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        """Receipts to deliveries at once; deliveries POSTed, one message's in order, messages in parallel."""
        results: list[list[Output] | BaseException] = [[] for _ in items]
        by_message: dict[str, list[int]] = {}
        for index, (event, meta) in enumerate(items):
            if meta.topic == "receipt":
                made = delivery(event, meta.now)
                results[index] = [made] if made is not None else []
            else:
                by_message.setdefault(event["message_id"], []).append(index)
        futures = [self._pool.submit(self._send_in_order, [items[i] for i in indexes]) for indexes in by_message.values()]
        for indexes, future in zip(by_message.values(), futures):
            for index, outcome in zip(indexes, future.result()):
                results[index] = outcome
        return results

    def _send_in_order(self, items: list[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        return each_alone(self._send, items)

    def _send(self, sent: Event, meta: RecordMeta) -> list[Output]:
        with self._lock:
            if sent["receipt_id"] in self._delivered:
                return []
        secret = (self._keys.get(sent["api_key_id"]) or {}).get("callback_secret") if sent["api_key_id"] else None
        if not secret:  # nothing to sign with: an operator makes the secret, then requeues the record from dead-letter
            raise Unsignable(f"API key {sent['api_key_id']!r} has no callback secret to sign with")
        body = sent["body"].encode()
        headers = {SIGNATURE_HEADER: sign(secret, int(meta.now.timestamp()), body), RECEIPT_ID_HEADER: sent["receipt_id"]}
        try:
            self._sender.post(sent["url"], body, headers)
        except TryFailed as exc:
            return [self._failed(sent, meta, str(exc), exc.permanent)]
        with self._lock:
            self._delivered[sent["receipt_id"]] = None
            if len(self._delivered) > self._remember:
                self._delivered.popitem(last=False)
        TRIES.labels("delivered").inc()
        return []

    def _failed(self, sent: Event, meta: RecordMeta, error: str, permanent: bool = False) -> Output:
        output = after_failure(sent, error, meta.now, self._settings, permanent=permanent)
        outcome = "retried" if output.deliver_at is not None else "failed"
        TRIES.labels(outcome).inc()
        if outcome == "failed":
            log.warning("status callback failed for good", extra={"message_id": sent["message_id"], "receipt_id": sent["receipt_id"],
                                                                  "attempts": output.value["attempt"], "error": error[:200]})  # type: ignore[index]
        return output

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._sender.close()
