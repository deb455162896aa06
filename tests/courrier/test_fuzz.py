"""``courrier fuzz``: the malformed records themselves (no broker), their accounting, and a small run on the real parts."""
from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer
from fastavro.validation import validate
from typer.testing import CliRunner

from common.config import Settings
import schemas
from courrier.fuzz import _Accounts, figures, input_topics, run_fuzz
from courrier.fuzz_records import KINDS, UNKNOWN_ID_BASE, absurd_value, has_context, records
from topology.topics import topic as declared

PARSED = {t: schemas.parsed_schema(str(declared(t).value_schema)) for t in input_topics()}
IDS = {t: i + 1 for i, t in enumerate(PARSED)}


def encode(topic: str, value: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    buffer.write(b"\x00" + IDS[topic].to_bytes(4, "big"))
    schemaless_writer(buffer, PARSED[topic], value)
    return buffer.getvalue()


def test_input_topics_are_every_stage_stream_and_no_table() -> None:
    assert set(input_topics()) >= {"send-requested", "consent-checked", "channel-resolved", "rendered", "rendered-transactional",
                                   "dispatched", "inbound", "provider-events", "rcs-deadline"}
    assert not {"consent", "frequency", "idempotency", "receipt", "dead-letter", "scheduled"} & set(input_topics())


@pytest.mark.parametrize("topic", sorted(PARSED))
def test_records_take_the_kinds_in_turn_and_are_what_they_claim(topic: str) -> None:
    made = records(topic, 40, random.Random(3), "r1", encode, PARSED)
    kinds = {r.kind for r in made}
    assert kinds == (set(KINDS) if has_context(PARSED[topic]) else set(KINDS) - {"absurd_values"})
    assert len({r.fuzz_id for r in made}) == 40
    for record in made:
        header = record.value[:5]
        if record.kind == "unknown_schema":
            assert int.from_bytes(header[1:], "big") >= UNKNOWN_ID_BASE
        elif record.kind == "foreign_schema":
            foreign = int.from_bytes(header[1:], "big")
            assert header[0] == 0 and PARSED[next(t for t, i in IDS.items() if i == foreign)]["name"] != PARSED[topic]["name"]
        elif record.kind == "absurd_values":
            assert int.from_bytes(header[1:], "big") == IDS[topic]
            assert record.fuzz_id.encode() in record.value  # the context's message id (its instants may not decode)


def test_the_same_seed_makes_the_same_records() -> None:
    first = records("send-requested", 20, random.Random(9), "r", encode, PARSED)
    assert first == records("send-requested", 20, random.Random(9), "r", encode, PARSED)


@pytest.mark.parametrize("seed", range(20))
def test_absurd_values_fit_their_schema(seed: int) -> None:
    for name in ("SendRequested", "Rendered", "Receipt", "ProviderEvent", "ConsentChange"):
        schema = schemas.parsed_schema(name)
        validate(absurd_value(schema, random.Random(seed), {}, "fuzz-x"), schema, raise_errors=True)


def test_accounts_find_records_by_key_or_inside_dead_lettered_bytes_and_by_receipt() -> None:
    made = records("send-requested", 8, random.Random(1), "abc123", encode, PARSED)
    accounts = _Accounts("abc123", made)
    accounts.dead_letter(made[0].fuzz_id.encode(), b"garbage", "consent: DecodeError")
    accounts.dead_letter(b"+33612345678", b"\x00\x00\x00\x00\x07..." + made[1].fuzz_id.encode() + b"\x0212", "render: ValueError")
    accounts.receipt(made[2].fuzz_id, "REJECTED")
    accounts.receipt(made[3].fuzz_id, "DELIVERED")
    accounts.receipt("someone-else", "REJECTED")
    report = accounts.report(["send-requested"])
    figures_ = figures(report)["topics"]["send-requested"]  # type: ignore[index]
    assert figures_ == {"records": 8, "dead_lettered": 2, "rejected": 1, "other": 1, "lost": 4}
    assert report.errors[(made[1].kind, "render: ValueError")] == 1
    assert not report.passed


def test_an_unknown_topic_is_refused_naming_the_choices(real_parts: Settings) -> None:
    from courrier.fuzz import FuzzError

    with pytest.raises(FuzzError, match="not a stage input topic: receipt; choose among send-requested"):
        run_fuzz(real_parts, 1, ["receipt"])


def test_the_command_has_help() -> None:
    from courrier.cli import app

    result = CliRunner().invoke(app, ["fuzz", "--help"])
    assert result.exit_code == 0 and "--count" in result.output and "--topic" in result.output


def test_fifty_malformed_records_per_input_topic_are_each_answered_and_no_stage_exits(topic_settings: Settings,
                                                                                       tmp_path: Path) -> None:
    report = run_fuzz(topic_settings, 50, timeout_s=240, log_dir=tmp_path)
    print(figures(report))
    assert report.exited == []
    assert {t: f.lost for t, f in report.topics.items() if f.lost} == {}
    assert all(f.records == 50 for f in report.topics.values())
    # what cannot be decoded can only be dead-lettered
    for kind in ("random_bytes", "unknown_schema", "foreign_schema"):
        assert set(report.kinds[kind]) == {"dead_lettered"}, (kind, report.kinds[kind])
