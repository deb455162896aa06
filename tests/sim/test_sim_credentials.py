"""The providers' credentials the local simulator and the real adapters share: generated once per state directory,
private, read back whole, and the service account's token URI kept pointing at the simulator."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sim.credentials import LocalCredentialFiles, ensure_local_credentials


def test_generated_once_private_and_read_back(tmp_path: Path) -> None:
    files = ensure_local_credentials(tmp_path, "http://127.0.0.1:18090/token")
    first = files.read()
    assert files.folder == tmp_path / "secrets"
    for path in (files.service_account, files.client_token, files.twilio_account_sid, files.twilio_auth_token):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    account = first.service_account
    assert account["type"] == "service_account" and account["token_uri"] == "http://127.0.0.1:18090/token"
    assert account["private_key"].startswith("-----BEGIN PRIVATE KEY-----") and account["client_email"].endswith(".iam.gserviceaccount.com")
    assert first.twilio_account_sid.startswith("AC") and len(first.twilio_account_sid) == 34 and len(first.twilio_auth_token) == 32
    assert ensure_local_credentials(tmp_path, "http://127.0.0.1:18090/token").read() == first  # kept, not generated again
    assert LocalCredentialFiles.under(tmp_path).read() == first


def test_a_moved_simulator_keeps_the_key_with_a_new_token_uri(tmp_path: Path) -> None:
    before = ensure_local_credentials(tmp_path, "http://127.0.0.1:18090/token").read()
    after = ensure_local_credentials(tmp_path, "http://127.0.0.1:18123/token").read()
    assert after.service_account == {**before.service_account, "token_uri": "http://127.0.0.1:18123/token"}
    assert (after.client_token, after.twilio_auth_token) == (before.client_token, before.twilio_auth_token)
    assert stat.S_IMODE(LocalCredentialFiles.under(tmp_path).service_account.stat().st_mode) == 0o600


def test_a_broken_file_is_an_error_naming_it(tmp_path: Path) -> None:
    broken_key = ensure_local_credentials(tmp_path / "a", "http://127.0.0.1:18090/token")
    broken_key.service_account.write_text(json.dumps({"type": "service_account"}))
    with pytest.raises(ValueError, match="rbm-service-account.json"):
        broken_key.read()
    empty_token = ensure_local_credentials(tmp_path / "b", "http://127.0.0.1:18090/token")
    empty_token.client_token.write_text("\n")
    with pytest.raises(ValueError, match="rbm-client-token"):
        LocalCredentialFiles.in_folder(empty_token.folder).read()
