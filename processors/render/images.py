"""MMS media bytes: what they are (sniffed from the bytes, never from a Content-Type), decoded in full under Pillow's
decompression-bomb limit, and re-encoded or resized until they fit a byte budget.

JPEG, PNG and GIF are images; a vCard (text) passes through unchanged. An image already within its budget is kept
as sent (after a full decode proved it sound); a larger one becomes a JPEG at falling qualities, then smaller and
smaller, and an animated GIF a smaller GIF, until it fits or is too small to be worth sending.
"""
from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from processors.web.media_rejected import DECODE_FAILED, TOO_LARGE, TOO_LARGE_AFTER_RESIZE, UNSUPPORTED, MediaRejected

MAX_PIXELS = 25_000_000  # 5000 × 5000: about 100 MB once decoded; anything larger is refused before decoding
MAX_ANIMATION_PIXELS = 50_000_000  # every frame of an animated GIF together
MAX_FRAMES = 500
MIN_EDGE = 64  # a picture whose longest side would be smaller than this is not worth sending
QUALITIES = (85, 70, 55, 40)  # JPEG qualities tried at each size, best first
MAX_STEPS = 16  # each step shrinks by at least 10 %: well below MIN_EDGE long before this
# Pillow's own bomb check runs in Image.open against this global; its warning (over the limit) is made an error
# below, its error (over twice the limit) already is one.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "GIF": ("image/gif", "gif")}
VCARD = ("text/vcard", "vcf")


@dataclass(frozen=True)
class Media:
    """Bytes ready to send, their MIME type and the file extension they are stored under."""

    body: bytes
    content_type: str
    extension: str


def prepare(body: bytes, budget: int) -> Media:
    """``body`` as a sendable media of at most ``budget`` bytes; ``MediaRejected`` with the reason when it cannot be."""
    if is_vcard(body):
        return _vcard(body, budget)
    with _bombs_are_errors():
        image = _open(body)
        frames = _decode(image)
        content_type, extension = FORMATS[image.format]
        if len(body) <= budget:
            return Media(body, content_type, extension)
        if image.format == "GIF" and frames > 1:
            return _fit_animation(image, frames, len(body), budget)
        return _fit_still(image, budget)


def is_vcard(body: bytes) -> bool:
    """Whether the bytes start like a vCard (after a BOM or blank lines)."""
    return body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")[:11].upper() == b"BEGIN:VCARD"


def _vcard(body: bytes, budget: int) -> Media:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MediaRejected(UNSUPPORTED, "a vCard must be UTF-8 text") from None
    if "END:VCARD" not in text.upper():
        raise MediaRejected(DECODE_FAILED, "the vCard has no END:VCARD")
    if len(body) > budget:
        raise MediaRejected(TOO_LARGE_AFTER_RESIZE, f"vCard of {len(body):,} bytes; the budget is {budget:,} and a vCard cannot be resized")
    return Media(body, *VCARD)


@contextmanager
def _bombs_are_errors() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _open(body: bytes) -> Image.Image:
    """Identify the image among the three formats only (no other decoder ever sees the bytes) and check its size."""
    try:
        image = Image.open(io.BytesIO(body), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected(TOO_LARGE, f"decompression-bomb limit: {exc}") from None
    except UnidentifiedImageError:
        raise MediaRejected(UNSUPPORTED, "not a JPEG, PNG, GIF or vCard (judged by its bytes)") from None
    except Exception as exc:  # Pillow's parsers raise many types on hostile bytes; every one means "does not decode"
        raise MediaRejected(DECODE_FAILED, f"{type(exc).__name__}: {exc}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:  # also when something else in the process lowered Pillow's own check
        raise MediaRejected(TOO_LARGE, f"{width}×{height} pixels; the limit is {MAX_PIXELS:,}")
    if width < 1 or height < 1:
        raise MediaRejected(DECODE_FAILED, f"{width}×{height} pixels")
    return image


def _decode(image: Image.Image) -> int:
    """Decode every frame (a truncated or corrupt file fails here, not later), bounded in frames and pixels; the count."""
    try:
        frames = getattr(image, "n_frames", 1)  # counting frames parses the file: hostile bytes can fail here already
    except Exception as exc:
        raise MediaRejected(DECODE_FAILED, f"{type(exc).__name__}: {exc}") from None
    width, height = image.size
    if frames > MAX_FRAMES or frames * width * height > MAX_ANIMATION_PIXELS:
        raise MediaRejected(TOO_LARGE, f"{frames} frames of {width}×{height}; the limits are {MAX_FRAMES} frames and "
                                       f"{MAX_ANIMATION_PIXELS:,} pixels in all")
    try:
        for index in range(frames):
            image.seek(index)
            image.load()
        image.seek(0)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected(TOO_LARGE, f"decompression-bomb limit: {exc}") from None
    except Exception as exc:  # as in _open: hostile bytes, any exception
        raise MediaRejected(DECODE_FAILED, f"{type(exc).__name__}: {exc}") from None
    return frames


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with transparent parts on white (JPEG and the resized GIF have no alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, "white")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _next_scale(scale: float, size: int, budget: int) -> float:
    """A smaller scale, guessed from how far the last try was over budget (bytes go roughly with the pixel count)."""
    return scale * min(0.9, max(0.3, math.sqrt(budget / size) * 0.9))


def _too_small(image: Image.Image, scale: float) -> bool:
    return max(image.size) * scale < MIN_EDGE


def _scaled(image: Image.Image, scale: float) -> Image.Image:
    if scale >= 1.0:
        return image
    width, height = image.size
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)


def _fit_still(image: Image.Image, budget: int) -> Media:
    """The best JPEG that fits: at each size the lowest quality says whether any fits, then the best quality that does."""
    rgb = _flatten(image)
    scale = 1.0
    for _ in range(MAX_STEPS):
        if _too_small(rgb, scale):
            break
        candidate = _scaled(rgb, scale)
        lowest = _jpeg(candidate, QUALITIES[-1])
        if len(lowest) <= budget:
            for quality in QUALITIES[:-1]:
                better = _jpeg(candidate, quality)
                if len(better) <= budget:
                    return Media(better, *FORMATS["JPEG"])
            return Media(lowest, *FORMATS["JPEG"])
        scale = _next_scale(scale, len(lowest), budget)
    raise MediaRejected(TOO_LARGE_AFTER_RESIZE, f"{image.format} {image.size[0]}×{image.size[1]}: no JPEG of at least "
                                                f"{MIN_EDGE} pixels fits {budget:,} bytes")


def _fit_animation(image: Image.Image, frames: int, size: int, budget: int) -> Media:
    """A smaller animated GIF, frame timings and looping kept."""
    looping = {"loop": image.info["loop"]} if "loop" in image.info else {}  # no loop extension: plays once, as sent
    scale = 1.0
    for _ in range(MAX_STEPS):
        scale = _next_scale(scale, size, budget)
        if _too_small(image, scale):
            break
        durations, resized = [], []
        for index in range(frames):
            image.seek(index)
            durations.append(image.info.get("duration", 100))
            resized.append(_scaled(_flatten(image), scale))
        buffer = io.BytesIO()
        resized[0].save(buffer, "GIF", save_all=True, append_images=resized[1:], duration=durations, **looping)
        size = buffer.tell()
        if size <= budget:
            return Media(buffer.getvalue(), *FORMATS["GIF"])
    raise MediaRejected(TOO_LARGE_AFTER_RESIZE, f"animated GIF {image.size[0]}×{image.size[1]}, {frames} frames: no version "
                                                f"of at least {MIN_EDGE} pixels fits {budget:,} bytes")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
