"""MMS media for one message: each URL fetched (SSRF-safe), checked and fitted to its share of the message, stored in S3.

Budgets: at most 600 KB per media and 1 MB for the whole message (text included), shared evenly among its media.
Results are cached in memory for a few minutes by (URL, budget): a campaign's one image is fetched, fitted and
stored once per render instance, not once per recipient. Rejections are cached too; transient failures are not.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from common.config import Settings
from common.errors import CourrierError
from processors.rules.addresses import AllowList
from processors.web.fetch import Fetched, FetchLimits, MediaFetcher
from processors.render.images import Media, prepare
from processors.web.media_rejected import MediaRejected
from processors.render.media_store import MediaStore

log = logging.getLogger(__name__)

MMS_MEDIA_MAX_BYTES = 600_000
MMS_MESSAGE_MAX_BYTES = 1_000_000


class Fetcher(Protocol):
    """Downloads a URL (``MediaFetcher``)."""

    def fetch(self, url: str) -> Fetched: ...


class Store(Protocol):
    """Keeps media and answers their URL (``MediaStore``)."""

    def put(self, media: Media) -> str: ...


# What render needs: the message's media URLs and its text size in bytes → the stored URLs, in order.
# Raises MediaRejected (final) or TransientError (retry later).
MediaPreparer = Callable[[Sequence[str], int], list[str]]


class MediaSettingInvalid(CourrierError):
    """A media setting that cannot be used (an allow-list entry that is not host or host:port)."""


def media_budget(count: int, text_bytes: int) -> int:
    """Bytes each of ``count`` media may take: 600 KB, and all of them with the text within 1 MB."""
    return min(MMS_MEDIA_MAX_BYTES, (MMS_MESSAGE_MAX_BYTES - text_bytes) // max(count, 1))


def media_fetcher(settings: Settings) -> MediaFetcher:
    """The SSRF-guarded fetcher settings describe (allow-list, size and time caps), for render's media and inbound MMS."""
    try:
        allow = AllowList.parse(settings.media_allow_hosts)
    except ValueError as exc:
        raise MediaSettingInvalid(f"COURRIER_MEDIA_ALLOW_HOSTS: {exc}") from None
    return MediaFetcher(allow, FetchLimits(max_bytes=settings.media_max_fetch_bytes, total_timeout_s=settings.media_fetch_timeout_s))


class MediaPipeline:
    """Fetch → sniff and fit → store, with a small time-bounded cache; called as a ``MediaPreparer``."""

    def __init__(self, fetcher: Fetcher, store: Store, cache_ttl_s: float = 300.0, cache_size: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetcher = fetcher
        self._store = store
        self._ttl_s = cache_ttl_s
        self._size = cache_size
        self._clock = clock
        self._cache: OrderedDict[tuple[str, int], tuple[float, str | MediaRejected]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> "MediaPipeline":
        """The pipeline of a render instance: allow-list and caps from settings, the media bucket on the S3 endpoint
        (its client built on the first media stored)."""
        from common.storage import DeferredS3Client

        fetcher, client = media_fetcher(settings), DeferredS3Client(settings)
        public = settings.media_public_url or f"{settings.s3_url.rstrip('/')}/{settings.media_bucket}"
        return cls(fetcher, MediaStore(client, settings.media_bucket, public), cache_ttl_s=settings.media_cache_ttl_s)

    def __call__(self, urls: Sequence[str], text_bytes: int) -> list[str]:
        budget = media_budget(len(urls), text_bytes)
        return [self._one(url, budget) for url in urls]

    def _one(self, url: str, budget: int) -> str:
        key = (url, budget)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(key)
            result = cached[1]
        else:
            result = self._prepare(url, budget)
            self._cache[key] = (now + self._ttl_s, result)
            self._cache.move_to_end(key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        if isinstance(result, MediaRejected):
            raise result
        return result

    def _prepare(self, url: str, budget: int) -> str | MediaRejected:
        try:
            fetched = self._fetcher.fetch(url)
            media = prepare(fetched.body, budget)
        except MediaRejected as exc:
            log.info("media rejected", extra={"url": url, "reason": exc.reason, "detail": exc.detail})
            return exc
        stored = self._store.put(media)
        log.info("media stored", extra={"url": url, "stored": stored, "bytes": len(media.body), "fetched_bytes": len(fetched.body),
                                        "content_type": media.content_type})
        return stored
