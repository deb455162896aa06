"""MMS media bytes: sniffed formats, the decompression-bomb limit, and re-encoding or resizing to fit a budget."""
from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from media_samples import VCARD, animated_gif, declared_png, noise
from PIL import Image

from processors.render.images import MAX_PIXELS, MIN_EDGE, Media, is_vcard, prepare
from processors.web.media_rejected import DECODE_FAILED, TOO_LARGE, TOO_LARGE_AFTER_RESIZE, UNSUPPORTED, MediaRejected

BUDGET = 600_000


def rejected(body: bytes, budget: int = BUDGET) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        prepare(body, budget)
    return caught.value


def opened(media: Media) -> Image.Image:
    image = Image.open(io.BytesIO(media.body))
    image.load()
    return image


@pytest.mark.parametrize(("fmt", "content_type", "extension"), [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"),
                                                                 ("GIF", "image/gif", "gif")])
def test_an_image_within_budget_is_kept_as_sent(fmt: str, content_type: str, extension: str) -> None:
    body = noise(64, 48, fmt, mode="L" if fmt == "GIF" else "RGB")
    assert prepare(body, BUDGET) == Media(body, content_type, extension)


def test_a_5_mb_noise_png_fits_after_resize() -> None:
    body = noise(1300, 1300)
    assert len(body) > 5_000_000
    media = prepare(body, BUDGET)
    assert media.content_type == "image/jpeg" and len(media.body) <= BUDGET
    image = opened(media)
    assert image.format == "JPEG" and image.size[0] / image.size[1] == 1.0 and image.size[0] >= 600


def test_quality_steps_come_before_downscaling() -> None:
    body = noise(600, 400, "JPEG", quality=100)  # about 500 KB; a lower quality is enough, at full size
    media = prepare(body, len(body) // 2)
    assert opened(media).size == (600, 400) and len(media.body) <= len(body) // 2


def test_a_png_with_transparency_becomes_a_jpeg_on_white() -> None:
    image = Image.new("RGBA", (900, 900), (0, 0, 0, 0))  # transparent black
    image.paste(Image.open(io.BytesIO(noise(300, 300))), (0, 0))  # an opaque square of noise in one corner
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    media = prepare(buffer.getvalue(), 20_000)
    assert media.content_type == "image/jpeg" and len(media.body) <= 20_000
    result = opened(media).convert("RGB")
    assert min(result.getpixel((result.size[0] - 1, result.size[1] - 1))) > 240  # the transparent corner is white


def test_an_animated_gif_over_budget_stays_an_animated_gif() -> None:
    body = animated_gif(400, 300, 8)
    media = prepare(body, len(body) // 3)
    image = opened(media)
    assert (media.content_type, image.format, getattr(image, "n_frames", 1)) == ("image/gif", "GIF", 8)
    assert image.size[0] < 400 and len(media.body) <= len(body) // 3
    assert image.info.get("duration") == 80 and image.info.get("loop") == 0


def test_an_image_bomb_is_refused_before_decoding() -> None:
    error = rejected(declared_png(100_000, 100_000))
    assert error.reason == TOO_LARGE and "decompression-bomb limit" in error.detail
    assert "10000000000 pixels" in error.detail


def test_over_the_limit_but_under_twice_it_is_refused_too() -> None:
    # Pillow only warns between MAX_IMAGE_PIXELS and twice that; the warning is made an error.
    error = rejected(declared_png(6000, 6000))
    assert 6000 * 6000 > MAX_PIXELS and error.reason == TOO_LARGE


def test_too_many_gif_frames_is_too_large() -> None:
    error = rejected(animated_gif(8, 8, 501))
    assert (error.reason, error.detail) == (TOO_LARGE, "501 frames of 8×8; the limits are 500 frames and 50,000,000 pixels in all")


def test_a_truncated_image_does_not_decode() -> None:
    assert rejected(noise(200, 200)[:5000]).reason == DECODE_FAILED
    assert rejected(declared_png(4000, 4000)).reason == DECODE_FAILED  # a header and no pixels


@pytest.mark.parametrize("body", [b"hello, this is text\n", b"%PDF-1.7\n...", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                                  noise(16, 16, "BMP"), noise(16, 16, "WEBP"), noise(16, 16, "TIFF"), b""])
def test_anything_else_is_unsupported(body: bytes) -> None:
    error = rejected(body)
    assert (error.reason, error.detail) == (UNSUPPORTED, "not a JPEG, PNG, GIF or vCard (judged by its bytes)")


def test_a_vcard_passes_through() -> None:
    assert prepare(VCARD, BUDGET) == Media(VCARD, "text/vcard", "vcf")
    bom = b"\xef\xbb\xbf\r\n" + VCARD.lower()
    assert prepare(bom, BUDGET).body == bom and is_vcard(bom)


def test_vcards_that_cannot_be_sent() -> None:
    assert rejected(VCARD, 50).reason == TOO_LARGE_AFTER_RESIZE
    assert rejected(VCARD.replace(b"Support", b"Supp\xff\xfert")).reason == UNSUPPORTED
    assert rejected(b"BEGIN:VCARD\r\nFN:x\r\n").reason == DECODE_FAILED


def test_what_cannot_fit_at_the_smallest_size_is_too_large_after_resize() -> None:
    error = rejected(noise(800, 800), 200)
    assert error.reason == TOO_LARGE_AFTER_RESIZE
    assert error.detail == f"PNG 800×800: no JPEG of at least {MIN_EDGE} pixels fits 200 bytes"
    assert rejected(animated_gif(200, 200, 4), 500).reason == TOO_LARGE_AFTER_RESIZE


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=2000),
    st.sampled_from([noise(40, 30, "PNG"), noise(40, 30, "JPEG"), animated_gif(20, 20, 3)]).flatmap(
        lambda good: st.tuples(st.integers(0, len(good) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda cut: good[:cut[0]] + cut[1] + good[cut[0] + len(cut[1]):])),
))
def test_hostile_bytes_are_a_rejection_or_a_media_never_a_crash(body: bytes) -> None:
    try:
        media = prepare(body, 4_000)
    except MediaRejected as exc:
        assert exc.reason in (TOO_LARGE, UNSUPPORTED, DECODE_FAILED, TOO_LARGE_AFTER_RESIZE)
    else:
        assert len(media.body) <= 4_000
