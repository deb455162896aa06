"""The probe command answers 0 on a healthy stage's /healthz and 1, with one line, on a stale or absent one."""
from __future__ import annotations

from processors.runtime.metrics import MetricsServer, StageMetrics
from infra.k8s.health import check, main


def test_healthy_stale_and_absent() -> None:
    metrics = StageMetrics("consent")
    server = MetricsServer(metrics, 0).start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        assert check(url) is None and main([url]) == 0
        metrics.last_loop -= 3600  # no consume loop for an hour
        assert check(url) == f"{url} answered 503"
    finally:
        server.stop()
    problem = check(url, timeout_s=1)
    assert problem is not None and "did not answer" in problem
