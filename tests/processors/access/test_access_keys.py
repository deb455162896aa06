"""Key text, checksum, salted hash and constant-time checks, without a broker."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from processors.access import keys
from processors.access.keys import (ALPHABET, CHECKSUM_CHARS, HASH_SCHEME, PATTERN, PREFIX, SALT_BYTES, checksum, generate_key,
                                    hash_key, key_id_of, new_key, revoked, verify)

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_a_key_has_the_prefix_a_public_id_256_random_bits_and_a_checksum() -> None:
    key = generate_key()
    assert key.startswith(PREFIX) and PATTERN.fullmatch(key)
    key_id, rest = key[len(PREFIX):].split("_")
    assert len(key_id) == 12 and len(rest) == 43 + CHECKSUM_CHARS
    assert len(ALPHABET) ** 43 >= 2 ** 256
    assert key_id_of(key) == key_id


def test_a_secret_scanner_regex_finds_a_key_in_text() -> None:
    key = generate_key()
    found = re.findall(r"courrier_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}", f"export COURRIER_API_KEY={key} # do not commit")
    assert found == [key]


def test_keys_do_not_repeat() -> None:
    assert len({generate_key() for _ in range(200)}) == 200


@hsettings(max_examples=300)
@given(st.text(ALPHABET, min_size=12, max_size=12), st.text(ALPHABET, min_size=43, max_size=43), st.data())
def test_any_one_character_change_breaks_the_checksum_or_the_format(key_id: str, secret: str, data: st.DataObject) -> None:
    body = f"{PREFIX}{key_id}_{secret}"
    key = body + checksum(body)
    assert key_id_of(key) == key_id
    position = data.draw(st.integers(len(PREFIX), len(key) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET + "_-").filter(lambda c: c != key[position]))
    assert key_id_of(key[:position] + replacement + key[position + 1:]) is None


@given(st.text(max_size=80))
def test_arbitrary_text_is_not_a_key(text: str) -> None:
    assert key_id_of(text) is None


def test_the_record_keeps_a_salted_hash_and_never_the_key() -> None:
    made = new_key("billing-app", ("messages:send",), NOW, rate_per_s=5.0, burst=10)
    record = made.record
    assert record["key_id"] == key_id_of(made.key) == made.key_id
    assert record["hash_scheme"] == HASH_SCHEME and len(record["salt"]) == SALT_BYTES and len(record["hash"]) == 32
    assert record["hash"] == hash_key(made.key, record["salt"])
    flattened = repr(record)
    assert made.key not in flattened and made.key[len(PREFIX) + 13:] not in flattened
    assert (record["rate_per_s"], record["burst"], record["created_at"], record["revoked_at"]) == (5.0, 10, NOW, None)


def test_the_same_key_text_hashes_differently_under_two_salts() -> None:
    key = generate_key()
    assert hash_key(key, b"a" * SALT_BYTES) != hash_key(key, b"b" * SALT_BYTES)


def test_verify_accepts_the_key_and_refuses_any_other() -> None:
    made = new_key("app", ("admin",), NOW)
    assert verify(made.key, made.record)
    assert not verify(generate_key(made.key_id), made.record)  # same id, other secret
    assert not verify(made.key, None)
    assert not verify(made.key, {**made.record, "hash_scheme": "md5"})


def test_verify_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    made = new_key("app", ("admin",), NOW)
    compared: list[tuple[bytes, bytes]] = []
    real = keys.hmac.compare_digest
    monkeypatch.setattr(keys.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    verify(made.key, made.record)
    verify(made.key, None)  # an unknown id does the same work
    assert len(compared) == 2


def test_revoking_keeps_the_record_and_the_first_revocation_time() -> None:
    record = new_key("app", ("admin",), NOW).record
    once = revoked(record, NOW)
    assert once["revoked_at"] == NOW and once["hash"] == record["hash"]
    assert revoked(once, datetime(2031, 1, 1, tzinfo=timezone.utc))["revoked_at"] == NOW
