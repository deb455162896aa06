"""The media pipeline: budgets, the cache, and (with the real S3) fetch → fit → store, each media stored once."""
from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import boto3
import pytest
from media_http import MediaServer, Network, sandboxed
from media_samples import VCARD, noise
from PIL import Image

from common.config import Settings
from common.errors import TransientError
from processors.web.fetch import Fetched
from processors.render.images import Media
from processors.render.media import MMS_MEDIA_MAX_BYTES, MediaPipeline, MediaSettingInvalid, media_budget
from processors.web.media_rejected import MediaRejected
from processors.render.media_store import MediaStore, media_key


@pytest.fixture
def network(monkeypatch) -> Iterator[Network]:
    with sandboxed(monkeypatch) as sandbox:
        yield sandbox
    assert sandbox.refused == []


def test_budgets() -> None:
    assert media_budget(1, 100) == MMS_MEDIA_MAX_BYTES
    assert media_budget(2, 0) == 500_000
    assert media_budget(3, 1_000) == 333_000


class Fakes:
    """A fetcher and a store in memory: URLs map to bodies or errors; the store notes what it was given."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes | Exception] = {}
        self.fetched: list[str] = []
        self.stored: list[Media] = []

    def fetch(self, url: str) -> Fetched:
        self.fetched.append(url)
        body = self.bodies[url]
        if isinstance(body, Exception):
            raise body
        return Fetched(url, body)

    def put(self, media: Media) -> str:
        self.stored.append(media)
        return f"s3://{media_key(media)}"


def test_the_cache_keeps_results_and_rejections_for_a_while_but_not_transient_failures() -> None:
    fakes, now = Fakes(), [0.0]
    pipeline = MediaPipeline(fakes, fakes, cache_ttl_s=60, clock=lambda: now[0])
    fakes.bodies = {"https://a/1.vcf": VCARD, "https://a/2.txt": b"text", "https://a/3": TransientError("HTTP 503")}
    stored = pipeline(["https://a/1.vcf"], 0)
    assert pipeline(["https://a/1.vcf"], 0) == stored and fakes.fetched == ["https://a/1.vcf"]
    for _ in range(2):
        with pytest.raises(MediaRejected, match="unsupported_media_type"):
            pipeline(["https://a/2.txt"], 0)
    assert fakes.fetched.count("https://a/2.txt") == 1
    for _ in range(2):
        with pytest.raises(TransientError):
            pipeline(["https://a/3"], 0)
    assert fakes.fetched.count("https://a/3") == 2
    now[0] = 61.0
    pipeline(["https://a/1.vcf"], 0)
    assert fakes.fetched.count("https://a/1.vcf") == 2  # expired, fetched again


def test_each_media_gets_its_share_of_the_message() -> None:
    fakes = Fakes()
    fakes.bodies = {"https://a/big.png": noise(700, 700), "https://a/other.png": noise(700, 700, seed=1)}
    pipeline = MediaPipeline(fakes, fakes)
    pipeline(["https://a/big.png", "https://a/other.png"], 2_000)
    assert [m.content_type for m in fakes.stored] == ["image/jpeg", "image/jpeg"]
    assert all(len(m.body) <= 499_000 for m in fakes.stored) and sum(len(m.body) for m in fakes.stored) + 2_000 <= 1_000_000


def test_a_bad_allow_list_setting_is_one_clear_error() -> None:
    with pytest.raises(MediaSettingInvalid, match="COURRIER_MEDIA_ALLOW_HOSTS: media allow-list entry 'a/b'"):
        MediaPipeline.from_settings(Settings(media_allow_hosts="a/b"))


def s3_client(settings: Settings):
    return boto3.client("s3", endpoint_url=settings.s3_url, aws_access_key_id=settings.s3_access_key,
                        aws_secret_access_key=settings.s3_secret_key, region_name=settings.s3_region)


def test_the_same_media_is_stored_once(real_parts: Settings, network: Network) -> None:
    client = s3_client(real_parts)
    puts: list[str] = []
    client.meta.events.register("before-call.s3.PutObject", lambda params, **_: puts.append(params["url_path"]))
    store = MediaStore(client, real_parts.media_bucket, "https://media.example.com")
    media = Media(noise(32, 32, seed=uuid.uuid4().int % 10_000) + uuid.uuid4().bytes, "image/png", "png")  # unique to this run
    first, second = store.put(media), store.put(Media(media.body, "image/png", "png"))
    assert first == second == f"https://media.example.com/{media_key(media)}"
    assert len(puts) == 1
    listed = client.list_objects_v2(Bucket=real_parts.media_bucket, Prefix=media_key(media))
    assert [o["Key"] for o in listed.get("Contents", [])] == [media_key(media)]
    head = client.head_object(Bucket=real_parts.media_bucket, Key=media_key(media))
    assert (head["ContentType"], head["ContentLength"]) == ("image/png", len(media.body))


def test_a_store_that_does_not_answer_is_transient() -> None:
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", aws_access_key_id="x", aws_secret_access_key="y",
                          region_name="us-east-1", config=Config(connect_timeout=1, retries={"max_attempts": 1}))
    with pytest.raises(TransientError, match="media store"):
        MediaStore(client, "courrier-media", "http://x").put(Media(b"x", "text/vcard", "vcf"))


def test_fetch_fit_and_store_through_the_real_s3(real_parts: Settings, network: Network) -> None:
    with MediaServer() as server:
        big = noise(1300, 1300, seed=uuid.uuid4().int % 10_000)  # > 5 MB of noise, unique to this run
        png = server.add("/big.png", big, headers={"Content-Type": "image/png"})
        twin = server.add("/same-bytes.png", big)
        card = server.add("/contact.vcf", VCARD, headers={"Content-Type": "text/vcard"})
        text = server.add("/fake.png", b"<html>not an image</html>", headers={"Content-Type": "image/png"})
        settings = real_parts.model_copy(update={"media_allow_hosts": server.host})
        pipeline = MediaPipeline.from_settings(settings)
        stored = pipeline([png, card], 200)
        assert pipeline([twin, card], 200) == stored  # other URL, same bytes: the same object
        with pytest.raises(MediaRejected) as caught:
            pipeline([text], 0)
        assert caught.value.reason == "unsupported_media_type"  # the Content-Type said image/png
    base = f"{settings.s3_url}/{settings.media_bucket}/"
    assert all(url.startswith(base) for url in stored)
    client = s3_client(settings)
    image = client.get_object(Bucket=settings.media_bucket, Key=stored[0][len(base):])
    body = image["Body"].read()
    assert image["ContentType"] == "image/jpeg" and len(body) <= 499_900
    assert Image.open(io.BytesIO(body)).format == "JPEG"
    assert stored[1].endswith(".vcf")
    assert client.get_object(Bucket=settings.media_bucket, Key=stored[1][len(base):])["Body"].read() == VCARD


def test_the_stage_sends_mms_media_stored_and_links_it_outside_mms_regions(real_parts: Settings, network: Network, tmp_path,
                                                                           resolved_event) -> None:
    from datetime import datetime, timezone

    from processors.render.stage import RenderStage
    from processors.runtime.stage import RecordMeta

    (tmp_path / "photo.toml").write_text('id = "photo"\n[sms]\ndefault = "Your photo"\n[mms]\nmedia_urls = ["{{ image }}"]\n')
    meta = RecordMeta(topic="channel-resolved", partition=0, offset=0, key="k", now=datetime.now(timezone.utc))
    with MediaServer() as server:
        image = server.add("/p.png", noise(300, 200, seed=uuid.uuid4().int % 10_000))
        settings = real_parts.model_copy(update={"media_allow_hosts": server.host})
        stage = RenderStage(tmp_path, media=MediaPipeline.from_settings(settings), link_domain="http://127.0.0.1:18092")
        [mms] = stage.process(resolved_event("photo", {"image": image}, channel="MMS", region="US"), meta)
        links, sms = stage.process(resolved_event("photo", {"image": image}, channel_policy="MMS",
                                                  fallback_reason="mms_unsupported_in_region"), meta)
        blocked = stage.process(resolved_event("photo", {"image": "http://169.254.169.254/latest/meta-data/"}, channel="MMS",
                                               region="US"), meta)
    [stored] = mms.value["media_urls"]
    assert stored.startswith(f"{settings.s3_url}/{settings.media_bucket}/") and stored.endswith(".png")
    assert links.value["url"] == stored and sms.value["media_urls"] == []
    assert sms.value["sms"]["text"] == f"Your photo\nhttp://127.0.0.1:18092/{links.key}"
    assert [(o.value["status"], o.value["reason"]) for o in blocked] == [("REJECTED", "media_fetch_blocked")]
