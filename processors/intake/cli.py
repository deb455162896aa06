"""``courrier api serve``: the HTTP intake under uvicorn, API keys required unless explicitly turned off for local work."""
from __future__ import annotations

import ipaddress

import typer

from common import logs
from common.config import get_settings

app = typer.Typer(no_args_is_help=True, help="The HTTP intake: POST /v1/messages and /v1/messages/batch.")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on."),
    insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth",
                                          help="Accept requests without API keys (logged; loopback addresses only). For local development."),
) -> None:
    """Serve the intake until SIGTERM or Ctrl-C; every request needs an API key (`courrier keys create`); the broker and registry must answer at start."""
    import uvicorn

    from processors.intake.api import create_app
    from common.kafka_clients import require_broker

    settings = get_settings()
    insecure = insecure_no_auth or settings.insecure_no_auth
    if insecure and not is_loopback(host):
        raise typer.BadParameter(f"access control can only be turned off on a loopback address, not {host}", param_hint="--insecure-no-auth")
    logs.configure(settings.log_level)
    require_broker(settings)
    uvicorn.run(create_app(settings, insecure_no_auth=insecure), host=host, port=port, log_config=None)
