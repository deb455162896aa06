"""How an HTTP provider's ``submit_many`` runs its requests: concurrent across recipients, in order for one recipient,
every message answered within the call's deadline.

Shared by the HTTP adapters (Twilio, RBM): each gives ``submit_in_order`` the function that sends one message before
a deadline (``Send``); this module owns the thread pool's use, the per-recipient order and the answers a message gets
when it could not be sent or answered in time:

- up to the pool's size requests at once, one destination's messages one after the other in input order (a
  recipient's messages leave in order);
- after a transient answer, that destination's later messages are held (transient ``held_for_order``): sending them
  would overtake the one that may still go later;
- what could not start before the deadline is transient ``not_submitted`` (never sent); what started and has no answer
  when the call gives up (the deadline plus ``FINISH_GRACE_S``) is transient ``timeout`` (unknown outcome: reconcile,
  never resend blindly). Late sends never start once the caller has its results.

It also holds the small helpers the adapters read answers with (``transient``, ``json_object``, ``retry_after``).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import httpx

from processors.dispatch.provider import Submission, SubmitResult

FINISH_GRACE_S = 1.0
DEFAULT_RETRY_AFTER_S = 1.0
# (submission, the call's deadline on time.monotonic()) → its final result.
Send = Callable[[Submission, float], SubmitResult]


class _Call:
    """One ``submit_in_order`` call: its deadline and answers; closed once the caller has its results."""

    def __init__(self, deadline: float, size: int) -> None:
        self.deadline = deadline
        self.results: list[SubmitResult | None] = [None] * size
        self.started: set[int] = set()
        self.closed = False
        self.lock = threading.Lock()

    def start(self, index: int) -> bool:
        """Whether message ``index`` may still be sent (before the deadline, and the call not given back yet)."""
        with self.lock:
            if self.closed or time.monotonic() >= self.deadline:
                return False
            self.started.add(index)
            return True


def submit_in_order(pool: ThreadPoolExecutor, submissions: Sequence[Submission], timeout_s: float, send: Send) -> list[SubmitResult]:
    """One final result per submission, in input order, within ``timeout_s`` (plus ``FINISH_GRACE_S`` for answers in flight)."""
    call = _Call(time.monotonic() + timeout_s, len(submissions))
    by_destination: dict[str, list[int]] = {}
    for index, submission in enumerate(submissions):
        by_destination.setdefault(submission.destination, []).append(index)
    futures = [pool.submit(_send_in_order, call, submissions, indexes, send) for indexes in by_destination.values()]
    wait(futures, timeout=max(0.0, call.deadline - time.monotonic()) + FINISH_GRACE_S)
    with call.lock:
        call.closed = True
        answers, started = list(call.results), set(call.started)
    for future in futures:
        future.cancel()
    return [answer if answer is not None else transient(s.message_id, None, "timeout" if i in started else "not_submitted")
            for i, (s, answer) in enumerate(zip(submissions, answers))]


def _send_in_order(call: _Call, submissions: Sequence[Submission], indexes: list[int], send: Send) -> None:
    """One destination's messages, in order; after one that may still go later (transient), the rest wait too."""
    for position, index in enumerate(indexes):
        if not call.start(index):
            return
        result = send(submissions[index], call.deadline)
        call.results[index] = result
        if result.transient:
            for later in indexes[position + 1:]:
                call.results[later] = transient(submissions[later].message_id, None, "held_for_order")
            return


def transient(message_id: str, code: str | None, detail: str) -> SubmitResult:
    """A "not now" answer: the message may be tried again later (or reconciled, when ``detail`` says the outcome is unknown)."""
    return SubmitResult(message_id, False, [], code, True, detail)


def json_object(answer: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or ``{}`` when it has none (an HTML error page, an empty body)."""
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(answer: httpx.Response) -> float:
    """Seconds a 429 asks us to wait (``Retry-After`` in seconds), ``DEFAULT_RETRY_AFTER_S`` when it does not say."""
    try:
        return max(0.0, float(answer.headers.get("retry-after", DEFAULT_RETRY_AFTER_S)))
    except ValueError:
        return DEFAULT_RETRY_AFTER_S
