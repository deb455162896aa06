"""The S3 client every part of Courrier builds from settings: the endpoint, credentials and region in one place."""
from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from common.config import Settings
from common.secret_settings import ConfigError


def s3_client(settings: Settings, *, connect_timeout: float = 5, read_timeout: float = 15, attempts: int = 3,
              signature_version: str | None = None) -> Any:
    """A boto3 S3 client for ``settings``' endpoint; ``attempts`` 1 fails fast (a readiness probe) instead of retrying."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"max_attempts": attempts, "mode": "standard"},
                    **({"signature_version": signature_version} if signature_version else {}))
    return boto3.client("s3", endpoint_url=settings.s3_url, aws_access_key_id=settings.s3_access_key,
                        aws_secret_access_key=settings.s3_secret_key, region_name=settings.s3_region, config=config)


class DeferredS3Client:
    """``s3_client(settings)``, built on its first use: a process that may never touch S3 (render when no message has
    media) does not load boto3, about 24 MB of its memory.

    What building would refuse is checked now, so a bad setting still stops the process at start: the endpoint must be
    an http(s) URL with a host (``ConfigError``), and the secret key must be there (``SecretMissing``)."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        endpoint = urlsplit(settings.s3_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ConfigError(f"S3_ENDPOINT_URL {settings.s3_url!r} is not an http(s) URL with a host, "
                              "e.g. https://s3.eu-west-3.amazonaws.com")
        settings.s3_secret_key  # noqa: B018  # raises SecretMissing now rather than at the first media
        self._settings, self._options = settings, options
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        """Whether the boto3 client exists yet."""
        return self._client is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # never the client's: this object's own, missing (a copy not yet initialised)
            raise AttributeError(name)
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = s3_client(self._settings, **self._options)
                client = self._client
        return getattr(client, name)
