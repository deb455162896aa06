"""``courrier api serve``: the HTTP intake under uvicorn."""
from __future__ import annotations

import typer

from courrier import logs
from courrier.config import get_settings

app = typer.Typer(no_args_is_help=True, help="The HTTP intake: POST /v1/messages and /v1/messages/batch.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on."),
) -> None:
    """Serve the intake until SIGTERM or Ctrl-C; the broker and registry must answer at start."""
    import uvicorn

    from processors.intake.api import create_app
    from processors.runtime.clients import require_broker

    settings = get_settings()
    logs.configure(settings.log_level)
    require_broker(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)
