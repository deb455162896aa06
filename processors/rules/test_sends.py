"""Test sends: a template sent to the team's own phones, never to a customer, and never counted as a customer's message.

A message whose context says ``test`` goes only to a number of the deployment's test list (``COURRIER_TEST_NUMBERS``,
E.164 numbers separated by commas), as Braze's and Twilio's test sends go to internal test users: the list is the
consent, so the consent stage does not look up opt-ins, quiet hours or caps for it. Any other number is refused
(``REJECTED``, reason ``not_a_test_number``), whatever the caller asked. Readers that count customers' messages
(campaign counts in ``message-status``'s companion ``campaign-status``, analytics) leave test receipts out with
``is_test``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers

REASON = "not_a_test_number"
BASIS_PREFIX = "test:"


def parse_test_numbers(text: str) -> frozenset[str]:
    """The test list as a set of E.164 numbers; ``ValueError`` naming an entry that is not a valid number in E.164."""
    numbers: set[str] = set()
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            parsed = phonenumbers.parse(entry, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed) or entry != phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164):
            raise ValueError(f"test number {entry!r} is not a valid number written in E.164 (e.g. +33612345678)")
        numbers.add(entry)
    return frozenset(numbers)


def is_test(context: Mapping[str, Any]) -> bool:
    """Whether a message (its ``MessageContext``) is a test send."""
    return bool(context.get("test"))


def refusal_detail(e164: str, test_numbers: frozenset[str]) -> str | None:
    """Why a test send may not go to ``e164`` (None: it may)."""
    if e164 in test_numbers:
        return None
    if not test_numbers:
        return "no test list is configured (COURRIER_TEST_NUMBERS): a test send goes only to the team's own numbers"
    return f"{e164} is not on the test list (COURRIER_TEST_NUMBERS, {len(test_numbers)} numbers): a test send never reaches anyone else"
