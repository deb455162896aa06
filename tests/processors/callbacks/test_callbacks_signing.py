"""Signatures as a receiver checks them, and `courrier callbacks verify`."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, strategies as st
from typer.testing import CliRunner

from processors.callbacks.cli import app
from processors.callbacks.signing import SignatureError, new_secret, sign, verify

SECRET = new_secret()


@given(st.binary(max_size=2000), st.integers(0, 2**40))
def test_a_signed_body_verifies_and_any_other_body_does_not(body: bytes, timestamp: int) -> None:
    header = sign(SECRET, timestamp, body)
    assert verify(SECRET, header, body, timestamp) == timestamp
    with pytest.raises(SignatureError):
        verify(SECRET, header, body + b" ", timestamp)
    with pytest.raises(SignatureError):
        verify(new_secret(), header, body, timestamp)


def test_an_old_signature_or_a_malformed_header_is_refused() -> None:
    header = sign(SECRET, 1_000, b"{}")
    with pytest.raises(SignatureError, match="tolerated"):
        verify(SECRET, header, b"{}", 1_000 + 301)
    for bad in ("", "t=abc,v1=00", "v1=00", f"t=1000"):
        with pytest.raises(SignatureError, match="must read"):
            verify(SECRET, bad, b"{}", 1_000)


def test_a_secret_being_rotated_may_sign_twice() -> None:
    old = sign(new_secret(), 5, b"x").split(",")[1]
    assert verify(SECRET, f"{sign(SECRET, 5, b'x')},{old}", b"x", 5) == 5


def test_the_verify_command(tmp_path) -> None:
    payload = tmp_path / "body.json"
    payload.write_bytes(b'{"status":"delivered"}')
    header = sign(SECRET, int(time.time()), payload.read_bytes())
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", "--secret", SECRET, "--payload", str(payload), "--header", header])
    assert ok.exit_code == 0 and ok.stdout.startswith("valid: signed at")
    payload.write_bytes(b'{"status":"failed"}')
    tampered = runner.invoke(app, ["verify", "--secret", SECRET, "--payload", str(payload), "--header", header])
    assert tampered.exit_code != 0 and "does not match" in str(tampered.exception)
    stale = sign(SECRET, 1_000, payload.read_bytes())
    assert runner.invoke(app, ["verify", "--secret", SECRET, "--payload", str(payload), "--header", stale]).exit_code != 0
    assert runner.invoke(app, ["verify", "--secret", SECRET, "--payload", str(payload), "--header", stale,
                               "--tolerance", "0"]).exit_code == 0
