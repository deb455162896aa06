"""Rules more than one stage applies, kept in one place so no stage imports another: phone numbers (``numbers``),
consent keys and the consent basis of a message (``consent``), idempotency records and reserved keys (``idempotency``),
accepted time zones (``zones``), and fraud: SMS pumping detection and a key's country allow-list (``fraud``: consent and
the intake)."""
