"""Keep a flaky local peer up: restart it when it exits or stops listening on its port.

jsmpp's SMSC simulator loses its accept loop on the first session that closes before it sends its
"Hello World" deliver_sm, while its receipt threads keep the JVM alive: the process is there, the
port is not. Run as ``python -m infra.supervise PORT -- COMMAND…``; SIGTERM stops it and its child.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from infra.process import listening

GRACE_S = 15.0  # how long a fresh child may take to start listening
DEAF_S = 2.0  # how long a child that listened may go without a listening socket


def supervise(port: int, argv: list[str]) -> None:
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        child = subprocess.Popen(argv)
        started, heard, deaf_since = time.monotonic(), False, None
        while not stopping and child.poll() is None:
            time.sleep(0.25)
            if listening(port):
                heard, deaf_since = True, None
            elif heard or time.monotonic() - started > GRACE_S:
                deaf_since = deaf_since or time.monotonic()
                if time.monotonic() - deaf_since > DEAF_S:
                    print(f"supervise: pid {child.pid} no longer listens on {port}; restarting it", file=sys.stderr, flush=True)
                    break
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if not stopping:
            time.sleep(0.5)


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: python -m infra.supervise PORT -- COMMAND [ARG…]")
    supervise(int(sys.argv[1]), sys.argv[3:])


if __name__ == "__main__":
    main()
