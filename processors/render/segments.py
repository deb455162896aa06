"""SMS encoding and segmentation, counted the way handsets and SMSCs count them.

GSM 03.38: a basic-table character costs one septet, an extension-table character two (escape +
character); 160 septets fit a single message, 153 a part of a concatenated one (the other 7 carry
the UDH). A text with any other character goes as UCS-2, counted in UTF-16 code units: 70 for a
single message, 67 a part. A part never ends between an escape and its character, nor between
the two halves of a surrogate pair: the whole character moves to the next part.
"""
from __future__ import annotations

from dataclasses import dataclass

# The basic table without 0x1B (the escape itself, never a character of a text).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
# (single message, part of a concatenated message), in septets or UTF-16 code units.
LIMITS = {"GSM7": (160, 153), "UCS2": (70, 67)}


@dataclass(frozen=True)
class SegmentInfo:
    """How a text travels as SMS: encoding, length in that encoding's units, segments, the units one segment holds,
    and the distinct characters (in order of appearance) that forced UCS-2."""

    encoding: str
    units: int
    segments: int
    per_segment: int
    ucs2_triggers: tuple[str, ...]


def ucs2_triggers(text: str) -> tuple[str, ...]:
    """The distinct characters of ``text``, in order of appearance, that the GSM 7-bit alphabet cannot carry."""
    return tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))


def unit_cost(char: str, encoding: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) one character takes."""
    if encoding == "GSM7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def encoding_of(text: str) -> str:
    """``GSM7`` when every character is in the GSM 03.38 tables, else ``UCS2``."""
    return "UCS2" if ucs2_triggers(text) else "GSM7"


def split(text: str) -> list[str]:
    """The parts ``text`` is sent as (one part when it fits a single message); joined, they give back the text."""
    encoding = encoding_of(text)
    single, per_part = LIMITS[encoding]
    if sum(unit_cost(c, encoding) for c in text) <= single:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = unit_cost(char, encoding)
        if used + cost > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    parts.append("".join(current))
    return parts


def count(text: str) -> SegmentInfo:
    """Encoding, units and segments of ``text``; an empty text is one empty segment."""
    triggers = ucs2_triggers(text)
    encoding = "UCS2" if triggers else "GSM7"
    units = sum(unit_cost(c, encoding) for c in text)
    single, per_part = LIMITS[encoding]
    if units <= single:
        return SegmentInfo(encoding, units, 1, single, triggers)
    return SegmentInfo(encoding, units, len(split(text)), per_part, triggers)
