"""Pure test-send rules: which numbers a test send may go to, and the ``send-requested`` record of each.

A test send is a message like any other from consent on (rendered, dispatched through the configured providers — the
sandbox or the simulator where one is configured — and reported), on the transactional lane so no opt-in, quiet hour
or cap holds it, with ``context.test`` set so every receipt says so and no count of customers' messages includes it.
The numbers are checked here against the test list before anything is published, and again by consent.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from processors.rules.numbers import Refusal, examine
from processors.rules.test_sends import refusal_detail
from processors.runtime.stage import Output

SOURCE = "test-send"


class TestSendError(ValueError):
    """Numbers a test send may not go to, or variables it cannot carry; the message names them."""


def recipients(numbers: Iterable[str], test_numbers: frozenset[str]) -> list[str]:
    """The E.164 forms of ``numbers`` (duplicates dropped, order kept); ``TestSendError`` naming every number that is not
    a valid number on the test list."""
    found: list[str] = []
    problems: list[str] = []
    for number in numbers:
        checked = examine(number, None)
        if isinstance(checked, Refusal):
            problems.append(f"{number!r}: {checked.detail}")
            continue
        e164 = checked.recipient["e164"]
        refused = refusal_detail(e164, test_numbers)
        if refused is not None:
            problems.append(refused)
        elif e164 not in found:
            found.append(e164)
    if problems:
        raise TestSendError("; ".join(problems))
    if not found:
        raise TestSendError("give at least one test number")
    return found


def parse_variables(pairs: Iterable[str]) -> dict[str, str]:
    """``k=v`` pairs as a dict; ``TestSendError`` naming a pair without ``=`` or a name."""
    variables: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise TestSendError(f"variable {pair!r} must look like name=value")
        variables[name.strip()] = value
    return variables


def request(template_id: str, e164: str, variables: Mapping[str, str], channel_policy: str, now: datetime,
            api_key_id: str | None = None) -> Output:
    """The ``send-requested`` record of one test send, keyed by its E.164 number, under a fresh message id."""
    return Output("send-requested", e164, {
        "context": {"message_id": str(uuid.uuid4()), "idempotency_key": None, "campaign_id": None, "variant": None,
                    "lane": "TRANSACTIONAL", "subscription_group": None, "requested_at": now, "source": SOURCE,
                    "api_key_id": api_key_id, "status_callback": None, "test": True},
        "recipient": e164, "default_region": None, "template_id": template_id, "variables": dict(variables),
        "channel_policy": channel_policy, "send_at": None, "validity_seconds": None, "locale": None, "time_zone": None,
        "sms_fallback_after_s": None,
    })
