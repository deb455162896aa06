"""Consent files without a broker: reading CSV/JSON imports, naming bad rows, rendering exports, picking what to review."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from courrier.consent_export import render
from courrier.consent_history import app
from courrier.consent_import import ImportRefused, file_format, rows, validate_file
from courrier.consent_read import COLUMNS
from courrier.consent_review import needs_review, to_review

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
OPT_IN = {"number": "+33612345678", "subscription_group": "promotions", "status": "opted_in", "source": "form",
          "changed_at": "2026-03-01T09:00:00+01:00", "text_shown": "Yes, offers by SMS", "ip_address": "203.0.113.7"}
OPT_OUT = {"number": "+46701234567", "subscription_group": "news", "status": "opted_out", "changed_at": "2026-03-01T10:00:00Z"}


def change(minutes: int, **fields: Any) -> dict[str, Any]:
    return {"e164": "+33612345678", "subscription_group": "promotions", "status": "OPTED_OUT", "basis": "MARKETING",
            "source": "keyword", "evidence": None, "changed_at": NOW + timedelta(minutes=minutes), "text_shown": None,
            "ip_address": None, "inbound_message_id": None, "recorded_by": "keywords", "needs_review": False, **fields}


def test_the_format_comes_from_the_option_or_the_extension() -> None:
    assert [file_format(Path(name), None) for name in ("a.csv", "a.JSON", "a.jsonl", "a.ndjson")] == ["csv", "json", "jsonl", "jsonl"]
    assert file_format(Path("a.txt"), "csv") == "csv"
    with pytest.raises(ImportRefused, match="say --format csv|json|jsonl"):
        file_format(Path("a.txt"), None)


def test_every_bad_row_is_named_by_its_line_and_a_source_option_fills_missing_ones(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("number,subscription_group,status,changed_at,text_shown,ip_address\n"
                    "+33612345678,promotions,opted_in,2026-03-01T09:00:00Z,Yes,203.0.113.7\n"
                    "12,promotions,opted_out,2026-03-01T09:00:00Z,,\n"
                    "+33612345678,promotions,opted_in,2099-03-01T09:00:00Z,Yes,203.0.113.7\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as caught:
        validate_file(path, "csv", NOW, "form")
    message = str(caught.value)
    assert "2 problem(s), nothing imported" in message
    assert "row 3: number: not a phone number" in message and "row 4: changed_at 2099-03-01T09:00:00+00:00 is in the future" in message
    with pytest.raises(ImportRefused, match="row 2: source: Field required"):
        validate_file(path, "csv", NOW, None)


def test_json_arrays_and_json_lines_are_read_items_numbered_from_one(tmp_path: Path) -> None:
    array, lines = tmp_path / "a.json", tmp_path / "a.jsonl"
    array.write_text(json.dumps([OPT_IN, {**OPT_OUT, "source": "call"}]), encoding="utf-8")
    lines.write_text(json.dumps(OPT_IN) + "\n\n" + json.dumps("nope") + "\n", encoding="utf-8")
    assert validate_file(array, "json", NOW, None) == 2
    assert [row.where for row in rows(lines, "jsonl")] == ["line 1", "line 3"]
    with pytest.raises(ImportRefused, match="line 3: "):
        validate_file(lines, "jsonl", NOW, None)
    (tmp_path / "b.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ImportRefused, match="one array of objects"):
        validate_file(tmp_path / "b.json", "json", NOW, None)


def test_an_export_has_every_evidence_column_and_keeps_json_evidence_as_json() -> None:
    changes = [change(0, status="OPTED_IN", source="form", text_shown="Yes", ip_address="203.0.113.7", recorded_by="import:a.csv"),
               change(5, evidence=json.dumps({"text": "Arrêtez", "fuzzy": True}), inbound_message_id="SM1", needs_review=True)]
    table = list(csv.reader(io.StringIO(render(changes, "csv"))))
    assert tuple(table[0]) == COLUMNS and len(table) == 3
    first = dict(zip(COLUMNS, table[1]))
    assert (first["text_shown"], first["ip_address"], first["recorded_by"], first["changed_at"]) == (
        "Yes", "203.0.113.7", "import:a.csv", "2026-03-02T12:00:00+00:00")
    second = dict(zip(COLUMNS, table[2]))
    assert json.loads(second["evidence"]) == {"text": "Arrêtez", "fuzzy": True} and second["needs_review"] == "True"
    as_json = json.loads(render(changes, "json"))
    assert as_json[1]["evidence"] == {"text": "Arrêtez", "fuzzy": True} and as_json[1]["inbound_message_id"] == "SM1"


def test_review_lists_flagged_and_older_fuzzy_keyword_opt_outs_only() -> None:
    flagged = change(1, needs_review=True)
    older = change(2, evidence=json.dumps({"text": "please stop texting me", "fuzzy": True}))
    exact = change(3, evidence=json.dumps({"text": "STOP", "fuzzy": False}))
    form = change(4, source="form", evidence="form-12")
    assert [needs_review(c) for c in (flagged, older, exact, form)] == [True, True, False, False]
    assert to_review([form, older, flagged, exact, older], NOW) == [flagged, older]
    assert to_review([flagged], NOW + timedelta(minutes=2)) == []


@pytest.mark.parametrize(("args", "message"), [
    (["export"], "give a NUMBER or --group G"),
    (["export", "+33612345678", "--format", "xml"], "--format must be one of csv, json"),
    (["export", "12"], "NUMBER: not a phone number"),
    (["forget", "0612345678"], "NUMBER: not a phone number"),
])
def test_bad_arguments_get_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and message in str(result.exception)
