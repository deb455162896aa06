"""Posts events to webhook URLs when due, signed, with bounded concurrency and retries.

A post carries the headers its provider signed it with (RBM's ``X-Goog-Signature``, Twilio's ``X-Twilio-Signature``),
or none: then it is a legacy event, signed with ``X-Courrier-Signature`` at each try. A post may carry a guard, asked
before each try: an RBM message revoked before delivery posts nothing more. One asyncio task owns a heap of due events. A post that does not answer 2xx (or does not connect) is tried
again after 0.25 s, 0.5 s, 1 s… up to its attempts, then counted as failed. At most ``max_pending`` events wait:
past that, new events are dropped and counted, so a receiver that is gone cannot grow the simulator's memory.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from sim.events import signed_headers

log = logging.getLogger(__name__)
BACKOFF_S = 0.25


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    attempts_left: int = field(compare=False)
    headers: Mapping[str, str] | None = field(compare=False, default=None)
    guard: Callable[[], bool] | None = field(compare=False, default=None)
    tried: int = field(compare=False, default=0)


@dataclass
class WebhookCounts:
    posted: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    cancelled: int = 0


class WebhookSender:
    """Schedules events and posts them from the server's own event loop (``run`` is its task)."""

    def __init__(self, secret: str, max_pending: int = 200_000, concurrency: int = 16, timeout_s: float = 5.0) -> None:
        self._secret = secret
        self._max_pending = max_pending
        self._concurrency = concurrency
        self._timeout_s = timeout_s
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._in_flight = 0
        self.counts = WebhookCounts()

    @property
    def pending(self) -> int:
        return len(self._heap) + self._in_flight

    def push(self, url: str, body: bytes, delay_s: float, attempts: int, headers: Mapping[str, str] | None = None,
             guard: Callable[[], bool] | None = None) -> None:
        """Post ``body`` to ``url`` ``delay_s`` from now, with ``headers`` (None: signed as a legacy event), while
        ``guard`` (if any) says yes; dropped and counted when ``max_pending`` events already wait."""
        if len(self._heap) >= self._max_pending:
            self.counts.dropped += 1
            return
        heapq.heappush(self._heap, _Due(time.monotonic() + delay_s, next(self._seq), url, body, attempts, headers, guard))
        self._wake.set()

    def clear(self) -> None:
        """Forget what waits (reset); posts already under way finish."""
        self._heap.clear()
        self.counts = WebhookCounts()

    async def run(self) -> None:
        """Post due events until cancelled."""
        limit = asyncio.Semaphore(self._concurrency)
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=self._timeout_s, limits=httpx.Limits(max_connections=self._concurrency)) as client:
            while True:
                if not self._heap:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                wait_s = self._heap[0].at - time.monotonic()
                if wait_s > 0:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), wait_s)
                    except TimeoutError:
                        pass
                    continue
                await limit.acquire()
                if not self._heap:  # cleared while waiting for a slot
                    limit.release()
                    continue
                due = heapq.heappop(self._heap)
                self._in_flight += 1
                task = asyncio.create_task(self._post(client, due, limit))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def _post(self, client: httpx.AsyncClient, due: _Due, limit: asyncio.Semaphore) -> None:
        try:
            if due.guard is not None and not due.guard():
                self.counts.cancelled += 1
                return
            headers = due.headers if due.headers is not None else signed_headers(self._secret, int(time.time()), due.body)
            try:
                answer = await client.post(due.url, content=due.body, headers=headers)
                ok, why = answer.is_success, f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                ok, why = False, type(exc).__name__
            if ok:
                self.counts.posted += 1
            elif due.attempts_left > 1:
                self.counts.retried += 1
                due.attempts_left -= 1
                due.tried += 1
                heapq.heappush(self._heap, _Due(time.monotonic() + BACKOFF_S * 2 ** (due.tried - 1), next(self._seq), due.url,
                                                due.body, due.attempts_left, due.headers, due.guard, due.tried))
                self._wake.set()
            else:
                self.counts.failed += 1
                log.info("webhook given up", extra={"why": why, "tries": due.tried + 1})
        finally:
            self._in_flight -= 1
            limit.release()
