"""Inbound MMS media kept in S3: each media URL of an ``inbound`` record is fetched under the SSRF rules and stored, and
the record carries a presigned URL of the stored copy (``stored_media_urls``) before the receiver publishes it.

A provider's media URL may need its credentials, expire or vanish; the stored copy is ours. The fetch uses render's
SSRF-guarded fetcher (``processors.web.fetch``: public addresses only, ``COURRIER_MEDIA_ALLOW_HOSTS`` for a local
server, size and time caps). Objects are named by the SHA-256 of their bytes under ``inbound/``. What is stored is
what was sent, never re-encoded; its type is sniffed from the bytes (JPEG, PNG, GIF, vCard), anything else is stored
as ``application/octet-stream`` to be downloaded, never displayed by a browser (the sender chose those bytes).

A media that cannot be fetched or stored never costs the message: its entry in ``stored_media_urls`` is null (the
lists are parallel to ``media_urls``), the failure is logged and counted, and the text still reaches the keywords
stage — a STOP with a photo attached is still a STOP.
"""
from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, UnidentifiedImageError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import TransientError
from processors.web.fetch import Fetched
from processors.render.images import FORMATS, VCARD, is_vcard
from processors.web.media_rejected import MediaRejected
from processors.runtime.stage import Output

log = logging.getLogger(__name__)

PREFIX = "inbound/"
OPAQUE = ("application/octet-stream", "bin")
SEVEN_DAYS_S = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live


class InboundMediaSettings(BaseSettings):
    """Where inbound media goes (``COURRIER_INBOUND_MEDIA_*``); the S3 endpoint, keys and the fetch caps and allow-list
    are ``Settings``' (``s3_*``, ``media_*``)."""

    model_config = SettingsConfigDict(env_prefix="COURRIER_INBOUND_MEDIA_", extra="ignore")

    enabled: bool = Field(True, description="Fetch and store the media of inbound messages; off: only the provider's URLs.")
    bucket: str | None = Field(None, description="The bucket inbound media is stored in; default: COURRIER_MEDIA_BUCKET.")
    url_ttl_s: int = Field(SEVEN_DAYS_S, ge=60, le=SEVEN_DAYS_S, description="How long the presigned URL on the event works.")


def sniff(body: bytes) -> tuple[str, str]:
    """The MIME type and file extension of ``body``, from its bytes: an image Pillow recognises, a vCard, else opaque."""
    if is_vcard(body):
        return VCARD
    try:
        with Image.open(io.BytesIO(body)) as image:  # reads the header only: nothing is decoded here
            return FORMATS.get(image.format or "", OPAQUE)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return OPAQUE


def object_key(body: bytes, extension: str) -> str:
    """``inbound/<sha256>.<ext>``: the same media sent twice is one object."""
    return f"{PREFIX}{hashlib.sha256(body).hexdigest()}.{extension}"


class InboundMediaStore:
    """Puts inbound media into one bucket and answers a presigned GET URL of it."""

    def __init__(self, client: Any, bucket: str, url_ttl_s: int = SEVEN_DAYS_S) -> None:
        self._client = client
        self._bucket = bucket
        self._ttl_s = url_ttl_s

    def put(self, body: bytes) -> str:
        """Store ``body`` (once per content) and return a presigned URL; S3 trouble is a ``TransientError``."""
        content_type, extension = sniff(body)
        key = object_key(body, extension)
        extra = {} if content_type != OPAQUE[0] else {"ContentDisposition": "attachment"}
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type, **extra)
            return str(self._client.generate_presigned_url("get_object", Params={"Bucket": self._bucket, "Key": key},
                                                           ExpiresIn=self._ttl_s))
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"inbound media store {self._bucket}/{key}: {exc}") from exc


@dataclass
class InboundMedia:
    """The receiver's step before publishing: every ``inbound`` output gets ``stored_media_urls``, others pass as they are.

    ``fetch(url) -> Fetched`` is render's ``MediaFetcher.fetch``; ``store(body) -> url`` an ``InboundMediaStore.put``."""

    fetch: Callable[[str], Fetched]
    store: Callable[[bytes], str]
    failed: int = 0

    def __call__(self, outputs: Sequence[Output]) -> tuple[Output, ...]:
        return tuple(self._stored(output) if output.topic == "inbound" and output.value.get("media_urls") else output
                     for output in outputs)

    def _stored(self, output: Output) -> Output:
        stored = [self._one(url, output.value.get("provider", "")) for url in output.value["media_urls"]]
        return Output(output.topic, output.key, {**output.value, "stored_media_urls": stored})

    def _one(self, url: str, provider: str) -> str | None:
        try:
            return self.store(self.fetch(url).body)
        except (MediaRejected, TransientError) as exc:
            self.failed += 1
            # The URL is the provider's (it may hold account ids): the reason and provider are enough to act on.
            log.warning("inbound media not stored", extra={"provider": provider, "reason": type(exc).__name__,
                                                           "detail": str(exc)[:300]})
            return None


def from_settings(settings: Any, media: InboundMediaSettings | None = None) -> InboundMedia | None:
    """The step for a receiver of ``settings`` (``common.config.Settings``), or None when turned off."""
    from common.storage import s3_client
    from processors.render.media import media_fetcher

    media = media or InboundMediaSettings()
    if not media.enabled:
        return None
    fetcher, client = media_fetcher(settings), s3_client(settings, signature_version="s3v4")  # presigned URLs: v4
    return InboundMedia(fetcher.fetch, InboundMediaStore(client, media.bucket or settings.media_bucket, media.url_ttl_s).put)
