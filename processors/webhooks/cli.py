"""``courrier webhooks serve``: the provider webhook receiver under uvicorn."""
from __future__ import annotations

import typer

from common import logs
from common.config import get_settings

app = typer.Typer(no_args_is_help=True, help="The provider webhook receiver: POST /webhooks/{provider} → provider-events and inbound.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(18091, min=0, max=65535, help="Port to listen on (the simulator posts to 18091 by default)."),
) -> None:
    """Serve the receiver until SIGTERM or Ctrl-C; the broker and registry must answer at start, and the signing secret
    (COURRIER_WEBHOOK_SECRET) must be set: there is no built-in one, so a missing secret stops it with one line."""
    import uvicorn

    from common.kafka_clients import require_broker
    from processors.webhooks.api import create_app

    settings = get_settings()
    settings.secret("webhook_secret")  # before the broker: the one line names the setting, not a part to start
    logs.configure(settings.log_level)
    require_broker(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)
