"""HTTP provider statuses and error codes next to the SMPP table, the one order, and `courrier dlr-status --protocol http`."""
from __future__ import annotations

import subprocess
import sys

import pytest
from receipt_feeder import Feeder

from processors.receipt.statuses import (ENGAGEMENT, HTTP_ERRORS, HTTP_STATUS, PROTOCOLS, SMPP_STATUS, STEP, Normalized,
                                         UnknownProviderStatus, normalize, protocol_of, with_error_code)
from processors.receipts import TERMINAL_STATUSES

import schemas


@pytest.mark.parametrize(("word", "status", "terminal", "reason"), [
    ("DELIVERED", "DELIVERED", True, None),
    ("UNDELIVERED", "UNDELIVERED", True, "undeliverable"),
    ("EXPIRED", "EXPIRED", True, "expired_in_network"),
    ("FAILED", "FAILED", True, "provider_failed"),
    ("delivered", "DELIVERED", True, None),
])
def test_http_status_table_through_the_stage(feeder: Feeder, dispatched_event, http_report, word: str, status: str, terminal: bool,
                                             reason: str | None) -> None:
    feeder.feed("dispatched", dispatched_event(provider="http:sim"))
    [value] = feeder.receipts_of(feeder.feed("provider-events", http_report(word)))
    assert (value["status"], value["terminal"], value["reason"], value["provider_status"]) == (status, terminal, reason, word)
    assert (value["provider"], value["provider_message_id"], value["context"]["message_id"]) == ("http:sim", "p1", "m-1")
    assert (value["channel"], value["segments"], value["fallback_reason"], value["cost_micros"]) == ("SMS", 1, "rcs_capability_unknown", 45000)


def test_http_sent_after_the_dispatched_sent_is_not_news_and_read_follows_delivery(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event())
    assert feeder.feed("provider-events", http_report("SENT")) == []
    feeder.feed("provider-events", http_report("DELIVERED"))
    [read] = feeder.receipts_of(feeder.feed("provider-events", http_report("READ", kind="READ_REPORT")))
    assert (read["status"], read["terminal"], read["reason"]) == ("READ", False, None)


@pytest.mark.parametrize(("word", "code", "reason"), [
    ("UNDELIVERED", "30003", "unreachable_handset"),
    ("EXPIRED", "TTL_EXPIRED", "rcs_ttl_expired"),
    ("FAILED", "30007", "filtered_by_carrier"),
    ("UNDELIVERED", "99999", "undeliverable"),
])
def test_an_http_error_code_names_the_reason_and_stays_in_the_detail(feeder: Feeder, dispatched_event, http_report, word: str, code: str,
                                                                     reason: str) -> None:
    feeder.feed("dispatched", dispatched_event())
    [value] = feeder.receipts_of(feeder.feed("provider-events", http_report(word, error_code=code)))
    assert (value["status"], value["reason"], value["detail"]) == (word, reason, f"provider error {code}")


def test_an_error_code_never_turns_a_delivery_into_a_failure() -> None:
    assert with_error_code(Normalized("DELIVERED", None), "30003") == Normalized("DELIVERED", None)
    assert with_error_code(Normalized("UNDELIVERED", "undeliverable"), None) == Normalized("UNDELIVERED", "undeliverable")
    assert with_error_code(Normalized("EXPIRED", "expired_in_network"), "ttl_expired") == Normalized("EXPIRED", "rcs_ttl_expired")


def test_unknown_http_status_is_recorded_unknown_and_protocols_do_not_mix(feeder: Feeder, dispatched_event, http_report) -> None:
    feeder.feed("dispatched", dispatched_event())
    with pytest.raises(UnknownProviderStatus, match="'DELIVRD' is not in the HTTP status table"):
        normalize("DELIVRD", "http")
    [unknown] = feeder.receipts_of(feeder.feed("provider-events", http_report("DELIVRD")))
    assert (unknown["status"], unknown["terminal"], unknown["reason"], unknown["provider_status"]) == (
        "UNKNOWN", False, "unknown_provider_status", "DELIVRD")
    with pytest.raises(UnknownProviderStatus, match="SMPP"):
        normalize("DELIVERED", "smpp")
    with pytest.raises(ValueError, match="unknown protocol"):
        normalize("DELIVERED", "mqtt")


def test_which_table_a_provider_uses() -> None:
    assert [protocol_of(p) for p in ("smpp:local", "SMPP:peer2", "http:sim", "sim:aggregator", "twilio")] == ["smpp", "smpp", "http", "http", "http"]
    assert PROTOCOLS == ("smpp", "http")


def test_the_tables_and_the_order_use_receipt_statuses_only() -> None:
    symbols = set(schemas.parsed_schema("ReceiptStatus")["symbols"])
    assert {status for status, _ in HTTP_STATUS.values()} | {status for status, _ in SMPP_STATUS.values()} <= symbols
    assert set(STEP) == symbols
    assert all(STEP["SENT"] < STEP[t] < STEP["READ"] for t in TERMINAL_STATUSES)
    assert ENGAGEMENT == {"READ", "CLICKED"} and not ENGAGEMENT & TERMINAL_STATUSES
    assert all(code.upper() == code for code in HTTP_ERRORS)


def courrier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=60)


def test_dlr_status_speaks_http_too() -> None:
    assert courrier("dlr-status", "UNDELIVERED", "--protocol", "http").stdout.strip() == "UNDELIVERED (terminal, undeliverable)"
    assert courrier("dlr-status", "read", "--protocol", "http").stdout.strip() == "READ (not terminal)"
    wrong = courrier("dlr-status", "DELIVRD", "--protocol", "http")
    assert wrong.returncode == 2 and "not in the HTTP status table" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    unknown = courrier("dlr-status", "DELIVERED", "--protocol", "mqtt")
    assert unknown.returncode == 2 and "supported: smpp, http" in unknown.stderr
