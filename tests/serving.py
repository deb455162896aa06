"""Serving for tests: a free loopback port, an ASGI app under uvicorn on one, and waiting for a process's health."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import uvicorn

from courrier.processes import StageProcess


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(app: Any, name: str, lifespan: Literal["on", "off"] = "on", start_timeout_s: float = 90) -> Iterator[str]:
    """``app`` under uvicorn on an ephemeral 127.0.0.1 port, in a thread, until the block ends; its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan=lifespan))
    thread = threading.Thread(target=server.run, name=f"{name}-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, f"the {name} service did not start"
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)


def wait_healthy(url: str, process: StageProcess, timeout_s: float = 90) -> None:
    """Until ``url`` answers 200; the end of the process's log as the failure when it dies or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.alive():
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(process.log_path.read_text()[-2000:])
