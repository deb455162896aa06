"""``courrier webhooks serve``: the provider webhook receiver under uvicorn."""
from __future__ import annotations

import typer

from courrier import logs
from courrier.config import get_settings

app = typer.Typer(no_args_is_help=True, help="The provider webhook receiver: POST /webhooks/{provider} → provider-events and inbound.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(18091, min=0, max=65535, help="Port to listen on (the simulator posts to 18091 by default)."),
) -> None:
    """Serve the receiver until SIGTERM or Ctrl-C; the broker and registry must answer at start."""
    import uvicorn

    from processors.runtime.clients import require_broker
    from processors.webhooks.api import create_app

    settings = get_settings()
    logs.configure(settings.log_level)
    require_broker(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)
