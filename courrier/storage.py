"""The S3 client every part of Courrier builds from settings: the endpoint, credentials and region in one place."""
from __future__ import annotations

from typing import Any

from courrier.config import Settings


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
