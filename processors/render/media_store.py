"""Stored MMS media: S3 objects named by the SHA-256 of their bytes, so the same media is stored once.

A HEAD comes first: a campaign's one image sent to a million recipients is uploaded once, and a message
re-rendered after a crash points at the object already there.
"""
from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from common.errors import TransientError
from processors.render.images import Media

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def media_key(media: Media) -> str:
    """The object key of a media: its content hash and extension (``<sha256>.jpg``)."""
    return f"{hashlib.sha256(media.body).hexdigest()}.{media.extension}"


class MediaStore:
    """Puts media into one bucket and answers the URL providers fetch it from (``public_base`` + key)."""

    def __init__(self, client: Any, bucket: str, public_base: str) -> None:
        self._client = client
        self._bucket = bucket
        self._public_base = public_base.rstrip("/")

    def put(self, media: Media) -> str:
        """Store ``media`` unless an object of the same hash is there; its URL. S3 trouble is a ``TransientError``."""
        key = media_key(media)
        try:
            if not self._exists(key):
                # Content-addressed, so the object never changes: caches may keep it for good.
                self._client.put_object(Bucket=self._bucket, Key=key, Body=media.body, ContentType=media.content_type,
                                        CacheControl="public, max-age=31536000, immutable")
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"media store {self._bucket}/{key}: {exc}") from exc
        return f"{self._public_base}/{key}"

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
            return True
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return False
            raise
