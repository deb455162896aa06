"""The probe command answers 0 on a healthy stage's /healthz and 1, with one line, on a stale or absent one."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import infra.k8s.health

from processors.runtime.metrics import MetricsServer, StageMetrics
from infra.k8s.health import check, main


def test_healthy_stale_and_absent() -> None:
    metrics = StageMetrics("consent")
    server = MetricsServer(metrics, 0).start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        assert check(url) is None and main([url]) == 0
        # As the image runs it: a script on its own, isolated from the repository's packages (standard library only).
        script = [sys.executable, "-I", str(Path(infra.k8s.health.__file__)), url]
        assert subprocess.run(script, cwd="/", capture_output=True, timeout=30).returncode == 0
        metrics.last_loop -= 3600  # no consume loop for an hour
        assert check(url) == f"{url} answered 503"
        stale = subprocess.run(script, cwd="/", capture_output=True, text=True, timeout=30)
        assert stale.returncode == 1 and stale.stderr == f"{url} answered 503\n"
    finally:
        server.stop()
    problem = check(url, timeout_s=1)
    assert problem is not None and "did not answer" in problem
