"""``courrier links serve``: the short-link redirect service under uvicorn."""
from __future__ import annotations

import typer

from common import logs
from common.config import get_settings

app = typer.Typer(no_args_is_help=True, help="The short-link redirect service: GET /{token} → 302, and a CLICKED receipt.")


@app.callback()
def links() -> None:
    """The short-link redirect service: GET /{token} → 302, and a CLICKED receipt."""


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(18092, min=0, max=65535, help="Port to listen on (COURRIER_LINK_DOMAIN must lead here)."),
) -> None:
    """Serve short links until SIGTERM or Ctrl-C; the broker and registry must answer at start."""
    import uvicorn

    from processors.links.app import create_app
    from common.kafka_clients import require_broker

    settings = get_settings()
    logs.configure(settings.log_level)
    require_broker(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)
