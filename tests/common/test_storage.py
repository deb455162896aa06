"""The S3 client built from settings, and its deferred form: checked at start, built on first use."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from common.config import ConfigError, SecretMissing, Settings
from common.storage import DeferredS3Client


@pytest.mark.parametrize("endpoint", ["s3.example.net", "ftp://s3.example.net", "https://"])
def test_an_endpoint_that_is_not_an_http_url_stops_the_process_at_start(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="^S3_ENDPOINT_URL .* is not an http\\(s\\) URL with a host"):
        DeferredS3Client(Settings(s3_endpoint_url=endpoint, s3_secret_key="k"))


def test_a_remote_endpoint_without_its_secret_stops_the_process_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURRIER_S3_SECRET_KEY", raising=False)
    with pytest.raises(SecretMissing, match="^COURRIER_S3_SECRET_KEY is not set"):
        DeferredS3Client(Settings(s3_endpoint_url="https://s3.example.net"))


def test_nothing_is_built_until_the_client_is_used() -> None:
    client = DeferredS3Client(Settings())
    assert not client.built
    with pytest.raises(AttributeError):
        client._anything_private  # noqa: B018  # the proxy's own names never reach (or build) the client
    assert not client.built


def test_render_s_media_pipeline_does_not_load_boto3_at_start() -> None:
    code = ("import sys; from common.config import Settings; from processors.render.media import MediaPipeline; "
            "MediaPipeline.from_settings(Settings()); print('boto3' in sys.modules)")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert answer == "False"


@pytest.mark.integration
def test_the_first_call_builds_one_client_that_talks_to_the_real_s3(real_parts: Settings) -> None:
    client = DeferredS3Client(real_parts)
    key = f"deferred-{uuid.uuid4().hex}.txt"
    client.put_object(Bucket=real_parts.media_bucket, Key=key, Body=b"hello")
    built = client._client
    assert client.get_object(Bucket=real_parts.media_bucket, Key=key)["Body"].read() == b"hello"
    assert client._client is built
    client.delete_object(Bucket=real_parts.media_bucket, Key=key)
