"""The receipt stage's view of ``message-state``: the compacted topic as read back, plus this instance's own writes.

The table (``processors.runtime.table.TopicTable`` in production) holds every instance's writes once the broker has
them; this instance's own writes are seen at once from memory, so two reports of one message in one batch see each
other. Of two views of a message, the one with the higher revision (then the further status) wins. Own writes are
dropped from memory once the table shows them, so memory beyond the table stays bounded by what is in flight.

Reports that name no message are attributed by provider id: through the ``provider-ids`` table when there is one (every
instance's attempts, as the instance that owns each message wrote them; this instance's own recent ones from memory
first), else through an index of the table's states, rebuilt from it on a miss (at most every ``reindex_after_s``).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping

from processors.receipt.statuses import STEP
from processors.runtime.own_writes import EncodedRows, OwnWrites
from processors.runtime.stage import Event, Output


class MessageStates:
    """Looks up and records message states; ``put`` returns the ``message-state`` record the runtime must produce."""

    def __init__(self, table: Mapping[str, Event], keep: int = 10_000, reindex_after_s: float = 2.0,
                 provider_ids: Mapping[str, bytes] | None = None) -> None:
        self._table = table
        self._provider_ids = provider_ids
        # Against a table of encoded rows, each state is encoded here, once: its output carries the bytes and the own
        # write remembers them, so whether the table shows it is a comparison of bytes, not a decode.
        encoded = table if isinstance(table, EncodedRows) else None
        self._encode = encoded.encode if encoded is not None else None
        self._mine = OwnWrites(table, _progress, keep, raw_of=encoded.raw if encoded is not None else None)
        self._keep = keep
        # Own attempts' ids until the provider-ids table shows them (bounded: oldest first out), or, without that table,
        # the index of every state read.
        self._by_provider_id: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._indexed_at = float("-inf")
        self._reindex_after_s = reindex_after_s

    def by_provider_id(self, provider: str, provider_message_id: str) -> str | None:
        """The message a provider's id belongs to, for a report that names neither (an SMPP receipt that reached a
        dispatcher which had not submitted it, e.g. after a crash)."""
        key = (provider, provider_message_id)
        found = self._by_provider_id.get(key)
        if found is not None:
            return found
        if self._provider_ids is not None:
            row = self._provider_ids.get(provider_id_key(provider, provider_message_id))
            return row.decode() if row is not None else None
        if time.monotonic() - self._indexed_at >= self._reindex_after_s:
            self._indexed_at = time.monotonic()
            for message_id, state in [*self._table.items(), *self._mine.items()]:
                self._index(message_id, state)
            found = self._by_provider_id.get(key)
        return found

    def _index(self, message_id: str, state: Event) -> None:
        for attempt in [state, *(state.get("superseded") or ())]:
            for part in attempt["provider_message_ids"]:
                self._by_provider_id[(attempt["provider"], part)] = message_id
        if self._provider_ids is not None:
            while len(self._by_provider_id) > 4 * self._keep:
                self._by_provider_id.popitem(last=False)

    def get(self, message_id: str) -> Event | None:
        return self._mine.get(message_id)

    def put(self, state: Event) -> list[Output]:
        """The ``message-state`` record, and a ``provider-ids`` row per id of an attempt the previous state did not know."""
        message_id = state["message_id"]
        before = self.get(message_id)
        known = {(a["provider"], part) for a in ([before, *(before.get("superseded") or ())] if before else [])
                 for part in a["provider_message_ids"]}
        raw = self._encode(state) if self._encode is not None else None
        self._mine.remember(message_id, state, raw)
        self._index(message_id, state)
        ids = [Output("provider-ids", provider_id_key(provider, part), message_id.encode())
               for provider, part in dict.fromkeys((state["provider"], p) for p in state["provider_message_ids"])
               if (provider, part) not in known] if self._provider_ids is not None else []
        return [*ids, Output("message-state", message_id, raw if raw is not None else state)]

    def pending(self) -> int:
        """Own writes the table has not shown yet (or not yet been pruned)."""
        return len(self._mine)


def provider_id_key(provider: str, provider_message_id: str) -> str:
    """The ``provider-ids`` key of a provider's message id."""
    return f"{provider}|{provider_message_id}"


def _progress(state: Event) -> tuple[int, bool, int, int]:
    return state["revision"], state["terminal"], STEP[state["status"]], len(state["engaged"])
