# One image for every Courrier process; its command picks which (the entrypoint is the `courrier` console script):
#   docker run courrier:0.1.0 run consent                     (any stage: consent, channel, render, dispatch, receipt,
#                                                             keywords, scheduler; /metrics and /healthz on 9400)
#   docker run courrier:0.1.0 api serve --host 0.0.0.0        (the HTTP intake; likewise `webhooks serve`, `links serve`)
# Build from the repository root: docker build -t courrier:0.1.0 .   deploy/compose.yaml runs the whole pipeline with it;
# `courrier deploy render` writes Kubernetes manifests for it. tests/deploy/test_dockerfile.py checks this file.

FROM python:3.11-slim AS build
WORKDIR /src
# The packages pyproject.toml installs (its [tool.setuptools.packages.find] include), then wheels of them and of every
# dependency, so the final stage needs no compiler and no network.
COPY pyproject.toml README.md ./
COPY common ./common
COPY courrier ./courrier
COPY processors ./processors
COPY schemas ./schemas
COPY topology ./topology
COPY infra ./infra
COPY sim ./sim
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# A fixed non-root id, the one the Kubernetes manifests run as (infra/k8s/manifests.py USER_ID).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /var/lib/courrier courrier \
    && mkdir -p /var/lib/courrier && chown courrier:courrier /var/lib/courrier
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
# The health probe as a standalone script (standard library only): it starts fast, every few seconds.
COPY --chmod=0755 infra/k8s/health.py /usr/local/bin/courrier-health
# State (the tables' RocksDB caches, rebuilt from their topics) in the user's directory; metrics on a fixed port.
ENV COURRIER_STATE_DIR=/var/lib/courrier \
    COURRIER_METRICS_PORT=9400 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/courrier
EXPOSE 9400
# A stage's /healthz (200 while its consume loop turns) on 127.0.0.1:$COURRIER_METRICS_PORT; an HTTP service's own
# /healthz when COURRIER_HEALTH_URL names it (deploy/compose.yaml does).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["courrier-health"]
ENTRYPOINT ["courrier"]
CMD ["--help"]
