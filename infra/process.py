"""Detached local processes with pid files: start, check, stop. Nothing here knows which part it runs."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def listening(port: int) -> bool:
    """Whether a local socket listens on ``port``, read from /proc without connecting (some peers punish idle probes)."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not any(t.exists() for t in tables):
        return port_open("127.0.0.1", port)
    wanted = f":{port:04X}"
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(wanted) and fields[3] == "0A":  # 0A: TCP_LISTEN
                return True
    return False


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
        _reap(pid)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def spawn(argv: Sequence[str], cwd: Path, log_path: Path, pid_file: Path, env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` in its own session (it outlives this command), output appended to ``log_path``; returns its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    pid_file.write_text(str(process.pid))
    return process.pid


def wait_until(check: Callable[[], bool], timeout_s: float, alive: Callable[[], bool] = lambda: True, interval_s: float = 0.25) -> bool:
    """Poll ``check`` until it is true, the process dies, or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        if not alive():
            return False
        time.sleep(interval_s)
    return check()


def terminate(pid_file: Path, timeout_s: float = 20.0) -> bool:
    """SIGTERM the process group of the pid in ``pid_file``, SIGKILL it after ``timeout_s``; True if something was stopped."""
    pid = read_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        _reap(pid)
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)
    return True


def last_line(log_path: Path, limit: int = 200) -> str | None:
    """The last non-empty line of a log (at most ``limit`` characters), to name why a process died."""
    try:
        with open(log_path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    return lines[-1][:limit] if lines else None


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie that still answers kill(pid, 0)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
