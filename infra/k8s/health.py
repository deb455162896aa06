#!/usr/bin/env python3
"""``courrier-health [URL]``: exit 0 when the health endpoint answers 200, 1 otherwise (one line why).

The image's HEALTHCHECK and the pods' probes of the stages run it inside the container: a stage serves ``/healthz``
on ``COURRIER_METRICS_HOST`` (``processors.runtime.metrics.MetricsServer``), 127.0.0.1 unless set, which a kubelet's
httpGet cannot reach; asked from inside on 127.0.0.1, it answers there too when the host is 0.0.0.0 (pods). URL
defaults to ``COURRIER_HEALTH_URL``, else ``http://127.0.0.1:$COURRIER_METRICS_PORT/healthz``.

The Dockerfile copies this file to ``/usr/local/bin/courrier-health``: it imports the standard library only, so a
probe every few seconds starts in tens of milliseconds instead of loading Courrier's packages.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def default_url() -> str:
    """The URL checked when none is given."""
    return os.environ.get("COURRIER_HEALTH_URL") or f"http://127.0.0.1:{os.environ.get('COURRIER_METRICS_PORT', '9400')}/healthz"


def check(url: str, timeout_s: float = 3.0) -> str | None:
    """None when ``url`` answers 200; else what went wrong, in one line."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} did not answer: {getattr(exc, 'reason', exc)}"


def main(argv: list[str]) -> int:
    problem = check(argv[0] if argv else default_url())
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
