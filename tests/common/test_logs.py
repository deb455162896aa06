"""JSON logs never carry an unmasked phone number."""
from __future__ import annotations

import io
import json
import logging

from hypothesis import given, strategies as st

from common import logs


def test_mask_keeps_the_country_prefix_and_last_two_digits() -> None:
    assert logs.mask_phone("+33612345678") == "+3361****78"


def test_every_number_in_a_line_is_masked_and_short_ids_are_kept() -> None:
    text = logs.mask_text("to +33612345678, fallback 0612345678, order 4521")
    assert text == "to +3361****78, fallback 06123****78, order 4521"


@given(st.text(alphabet="0123456789", min_size=8, max_size=15))
def test_no_e164_number_survives(digits: str) -> None:
    masked = logs.mask_text(f"recipient +{digits} failed")
    assert f"+{digits}" not in masked


def test_json_lines_mask_messages_and_extra_fields() -> None:
    stream = io.StringIO()
    logs.configure("INFO", stream=stream)
    logging.getLogger("test").info("sent to %s", "+46701234567", extra={"recipient": "+14155550123", "segments": 2})
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["message"] == "sent to +4670****67"
    assert entry["recipient"] == "+1415****23"
    assert entry["segments"] == 2 and entry["level"] == "info"


# Issue 20: formatted numbers are masked; ids, offsets, timestamps, schema ids and JSON numbers are not.
_SEPARATORS = st.sampled_from([" ", "-", ".", ""])


@st.composite
def formatted_international(draw: st.DrawFn) -> tuple[str, str]:
    """(the number as written, its digits): a country code then 7–12 digits in groups, as people and libraries write them."""
    country = draw(st.from_regex(r"[1-9]\d{0,2}", fullmatch=True))
    national = draw(st.text(alphabet="0123456789", min_size=max(7, 8 - len(country)), max_size=15 - len(country)))
    groups, rest = [], national
    while rest:
        size = draw(st.integers(1, 4))
        groups.append(rest[:size])
        rest = rest[size:]
    if draw(st.booleans()) and len(groups) > 1:
        groups[0] = f"({groups[0]})"
    written = f"+{country}{draw(st.sampled_from([' ', '-', '']))}" + "".join(g + draw(_SEPARATORS) for g in groups[:-1]) + groups[-1]
    return written, country + national


@given(formatted_international(), st.sampled_from(["to {} failed", "{}", "recipient={}; retry", '{{"detail": "number {} refused"}}']))
def test_no_formatted_international_number_survives(number: tuple[str, str], line: str) -> None:
    written, digits = number
    masked = logs.mask_text(line.format(written))
    assert written not in masked and digits not in "".join(c for c in masked if c.isdigit() or c == "*")
    assert "****" in masked


def test_the_probes_formats_are_masked() -> None:
    assert logs.mask_text("sent to +33 6 12 34 56 78 and +1 (415) 555-0123") == "sent to +3361****78 and +1415****23"
    assert logs.mask_text("call (415) 555-0123, 415-555-0123 or 06 12 34 56 78") == "call 41555****23, 41555****23 or 06123****78"


@given(st.integers(min_value=0, max_value=2**63))
def test_json_numbers_and_ids_are_kept(number: int) -> None:
    for line in (json.dumps({"offset": number, "schema_id": number, "ratio": number / 7}), f"schema id {number}", f"offset {number}"):
        assert logs.mask_text(line) == line


@given(st.uuids(), st.datetimes(), st.ip_addresses(v=4))
def test_uuids_timestamps_and_addresses_are_kept(uuid, when, address) -> None:
    line = f"message {uuid} at {when.isoformat()} from {address}"
    assert logs.mask_text(line) == line


def test_number_fields_are_masked_whatever_their_format_and_masking_twice_changes_nothing() -> None:
    stream = io.StringIO()
    logs.configure("INFO", stream=stream)
    logging.getLogger("test").info("inbound", extra={"from": "4155550123", "to": "COURRIER", "recipient": logs.mask_phone("+33612345678"),
                                                     "schema_id": 4155550123})
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert (entry["from"], entry["to"], entry["recipient"], entry["schema_id"]) == ("41555****23", "COURRIER", "+3361****78", 4155550123)
