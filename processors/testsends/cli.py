"""``courrier templates test-send ID --to N1,N2 [--var k=v]``: a template to the team's test numbers, marked as test."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer

from common import logs
from common.config import get_settings

POLICIES = ("sms", "mms", "rcs_only", "rcs_with_sms_fallback")


def test_send(
    template_id: str = typer.Argument(..., help="The template to send."),
    to: str = typer.Option(..., "--to", help="Test numbers, E.164, comma-separated; each must be on COURRIER_TEST_NUMBERS."),
    variables: Optional[list[str]] = typer.Option(None, "--var", "--vars", help="A template variable name=value (repeatable)."),
    policy: str = typer.Option("rcs_with_sms_fallback", "--policy", help=f"Channel policy: {', '.join(POLICIES)}."),
) -> None:
    """Send TEMPLATE_ID to test numbers through the configured providers; every receipt says test, no count includes it."""
    from processors.rules.test_sends import parse_test_numbers
    from common.kafka_clients import require_broker
    from processors.runtime.publisher import Publisher
    from processors.testsends.api import POLICIES as SYMBOLS
    from processors.testsends.logic import TestSendError, parse_variables, recipients, request

    settings = get_settings()
    if policy not in SYMBOLS:
        raise typer.BadParameter(f"{policy!r} is not one of {', '.join(POLICIES)}", param_hint="--policy")
    try:
        numbers = recipients(to.split(","), parse_test_numbers(settings.test_numbers))
    except ValueError as exc:  # TestSendError too
        raise typer.BadParameter(str(exc), param_hint="--to") from None
    try:
        values = parse_variables(variables or [])
    except TestSendError as exc:
        raise typer.BadParameter(str(exc), param_hint="--var") from None
    require_broker(settings)
    logs.configure("WARNING")
    now = datetime.now(timezone.utc)
    outputs = [request(template_id, e164, values, SYMBOLS[policy], now) for e164 in numbers]
    publisher = Publisher(settings, 30.0)
    publisher.start(("send-requested",))
    try:
        errors = publisher.publish(outputs)
    finally:
        publisher.close()
    for output, error in zip(outputs, errors):
        typer.echo(f"{output.key}\t{output.value['context']['message_id']}\t{'sent' if error is None else 'NOT sent: ' + error}")
    if any(errors):
        raise typer.Exit(1)
