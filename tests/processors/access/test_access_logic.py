"""Who may call what: missing, malformed, unknown, wrong, revoked keys and missing scopes, without a broker."""
from __future__ import annotations

from datetime import datetime, timezone

from processors.access.keys import generate_key, new_key, revoked
from processors.access.logic import Denial, Grant, authorize

NOW = datetime(2030, 1, 2, tzinfo=timezone.utc)
SENDER = new_key("billing", ("messages:send",), NOW, rate_per_s=2.0, burst=4)
ADMIN = new_key("ops", ("admin",), NOW)
GONE = new_key("old-app", ("messages:send",), NOW)
RECORDS = {k.key_id: k.record for k in (SENDER, ADMIN)} | {GONE.key_id: revoked(GONE.record, NOW)}


def check(token: str | None, needed: str = "messages:send") -> Grant | Denial:
    return authorize(token, needed, RECORDS.get)


def test_a_key_with_the_scope_is_granted_with_its_limits() -> None:
    assert check(SENDER.key) == Grant(key_id=SENDER.key_id, name="billing", rate_per_s=2.0, burst=4)
    assert check(ADMIN.key, "reports:read") == Grant(key_id=ADMIN.key_id, name="ops", rate_per_s=None, burst=None)


def test_no_key_is_401_missing() -> None:
    assert check(None) == Denial(401, "missing_api_key", check(None).message)
    assert isinstance(check(""), Denial) and check("").code == "missing_api_key"


def test_malformed_unknown_and_wrong_keys_are_the_same_401() -> None:
    malformed, unknown, wrong_secret = "hunter2", generate_key(), generate_key(SENDER.key_id)
    for token in (malformed, unknown, wrong_secret, SENDER.key[:-1] + ("A" if SENDER.key[-1] != "A" else "B")):
        denial = check(token)
        assert isinstance(denial, Denial) and (denial.status, denial.code, denial.message) == (401, "invalid_api_key", "the API key is not valid")
    assert check(malformed).key_id is None and check(wrong_secret).key_id == SENDER.key_id


def test_a_revoked_key_is_401_revoked_whatever_its_scopes() -> None:
    denial = check(GONE.key)
    assert isinstance(denial, Denial) and (denial.status, denial.code, denial.key_id) == (401, "revoked_api_key", GONE.key_id)


def test_a_key_without_the_scope_is_403_naming_the_scope() -> None:
    denial = check(SENDER.key, "consent:write")
    assert isinstance(denial, Denial) and (denial.status, denial.code) == (403, "insufficient_scope") and "consent:write" in denial.message


def test_a_refusal_never_carries_the_key_text() -> None:
    for token, needed in ((SENDER.key, "admin"), (GONE.key, "messages:send"), (generate_key(SENDER.key_id), "messages:send")):
        denial = check(token, needed)
        assert isinstance(denial, Denial) and token not in repr(denial)


def test_a_grant_carries_the_countries_of_its_key_and_none_for_any() -> None:
    limited = new_key("eu-app", ("messages:send",), NOW, countries=("FR", "SE"))
    records = {limited.key_id: limited.record, SENDER.key_id: {k: v for k, v in SENDER.record.items() if k != "countries"}}
    grant = authorize(limited.key, "messages:send", records.get)
    assert isinstance(grant, Grant) and grant.countries == ("FR", "SE")
    older = authorize(SENDER.key, "messages:send", records.get)  # a record written before the field existed
    assert isinstance(older, Grant) and older.countries is None
