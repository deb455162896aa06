"""``courrier callbacks``: check a callback's signature as a receiver would, show or make a key's callback secret, set
a key's default callback URL."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from common.config import get_settings
from common.errors import CourrierError
from processors.callbacks.signing import SIGNATURE_HEADER, TOLERANCE_S, SignatureError, new_secret, verify as verify_signature
from processors.runtime.stage import Event, Output

# Kafka clients load only when a command that needs them runs, so `courrier --help` stays quick.
app = typer.Typer(no_args_is_help=True, help="Status callbacks: verify a signature, a key's callback secret and default URL.")


class CallbackError(CourrierError):
    """A callbacks command could not do what was asked: a signature that does not verify, an unknown key, a refused URL."""


@app.command()
def verify(
    secret: str = typer.Option(..., "--secret", envvar="COURRIER_CALLBACK_SECRET",
                               help="The key's callback secret (`courrier callbacks secret KEY_ID`); or COURRIER_CALLBACK_SECRET."),
    payload: Path = typer.Option(..., "--payload", exists=True, dir_okay=False, readable=True,
                                 help="A file holding the request body exactly as received (bytes, not re-encoded)."),
    header: str = typer.Option(..., "--header", help=f"The {SIGNATURE_HEADER} header's value, t=…,v1=…"),
    tolerance: float = typer.Option(TOLERANCE_S, "--tolerance", min=0,
                                    help="Seconds the signing time may be from now; 0 checks the signature only (a saved payload)."),
) -> None:
    """Exit 0 when HEADER signs PAYLOAD with SECRET, as a receiver must check every callback: HMAC-SHA256 of
    "<t>.<body>" keyed by the secret, hex, compared in constant time, t within the tolerance."""
    body = payload.read_bytes()
    now = time.time()
    try:
        signed_at = verify_signature(secret, header, body, now, tolerance if tolerance > 0 else float("inf"))
    except SignatureError as exc:
        raise CallbackError(f"signature not valid: {exc}") from None
    typer.echo(f"valid: signed at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(signed_at))} over {len(body)} bytes")


@app.command()
def secret(
    key_id: str = typer.Argument(..., help="The API key's id (`courrier keys list`)."),
    rotate: bool = typer.Option(False, "--rotate", help="Replace the secret: callbacks are signed with the new one from now on."),
) -> None:
    """Print the callback secret the key's callbacks are signed with, making one if it has none (or with --rotate)."""
    record = _key(key_id)
    current = record.get("callback_secret")
    if current and not rotate:
        typer.echo(current)
        return
    made = new_secret()
    _write({**record, "callback_secret": made})
    typer.echo(made)
    typer.echo(f"{'rotated' if current else 'made'} the callback secret of key {key_id}; give it to the receiver to verify with",
               err=True)


@app.command()
def default(
    key_id: str = typer.Argument(..., help="The API key's id (`courrier keys list`)."),
    url: Optional[str] = typer.Option(None, "--url", help="Where the key's messages' receipts go when a request names none."),
    clear: bool = typer.Option(False, "--clear", help="Remove the key's default: only requests naming a URL get callbacks."),
) -> None:
    """Set (or clear) the status callback URL of every message sent with KEY_ID that names none; checked against the
    SSRF rules now, and again before every POST."""
    if (url is None) == (not clear):
        raise typer.BadParameter("give --url URL or --clear (not both)", param_hint="--url")
    record = _key(key_id)
    if url is not None:
        from processors.callbacks.settings import CallbackSettings
        from processors.callbacks.targets import TargetRefused, target
        from processors.rules.addresses import AllowList

        try:
            target(url, {**record, "callback_secret": record.get("callback_secret") or "to be made"},
                   AllowList.parse(CallbackSettings().allow_hosts))
        except TargetRefused as exc:
            raise CallbackError(exc.message) from None
    _write({**record, "status_callback": url})
    typer.echo(f"key {key_id}: default status callback {url or 'removed'}")


def _key(key_id: str) -> Event:
    from processors.access.store import KEYS_TOPIC, require_topics
    from processors.runtime.snapshot import snapshot

    settings = get_settings()
    require_topics(settings)
    record = snapshot(settings, KEYS_TOPIC).get(key_id)
    if record is None:
        raise CallbackError(f"no API key {key_id!r}; `courrier keys list` shows the ids")
    return record


def _write(record: Event) -> None:
    from processors.access.store import KEYS_TOPIC
    from processors.runtime.publisher import write_now

    write_now(get_settings(), [Output(KEYS_TOPIC, record["key_id"], record)])
