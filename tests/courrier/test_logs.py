"""JSON logs never carry an unmasked phone number."""
from __future__ import annotations

import io
import json
import logging

from hypothesis import given, strategies as st

from courrier import logs


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
