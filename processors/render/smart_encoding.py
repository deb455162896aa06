"""Smart encoding: typographic look-alikes (curly quotes, dashes, unicode spaces, ellipsis…) replaced by GSM-7 characters.

One such character forces a whole SMS into UCS-2, at 70 instead of 160 characters a segment. The
replacement is all or nothing, as Twilio and Bird do it: the text is replaced only when the result is
entirely GSM-7 (a text that stays UCS-2 for an emoji or a ``ç`` would only lose its typography) and
takes no more segments than the original (``…`` costs three septets: a text dense in ellipses can be
cheaper in UCS-2). Letters are never changed (no ``ç`` → ``c``): only punctuation and spacing.
"""
from __future__ import annotations

from processors.render.segments import GSM7_BASIC, GSM7_EXTENSION, count, encoding_of

_GROUPS: dict[str, str] = {
    # single quotes, apostrophes, primes, the grave and acute accents used as apostrophes, single guillemets
    "'": "\u2018\u2019\u201a\u201b\u2032\u2035\u02bb\u02bc\u02bd\u0060\u00b4\u2039\u203a",
    # double quotes, double primes and guillemets (« » are not GSM-7)
    '"': "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e",
    # hyphens, figure/en/em dashes, horizontal bar, minus sign, small hyphen-minus, bullets
    "-": "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\u2022\u2023\u25e6",
    # tab, no-break, en/em/thin/hair/figure… spaces, narrow no-break, medium mathematical and ideographic spaces
    " ": "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000",
    # line and paragraph separators
    "\n": "\u2028\u2029",
    # fraction and division slashes
    "/": "\u2044\u2215",
    # modifier circumflex and small tilde, as used for ^ and ~
    "^": "\u02c6",
    "~": "\u02dc",
    # zero-width space, non-joiner, joiner, word joiner, byte order mark, soft hyphen: invisible, dropped
    "": "\u200b\u200c\u200d\u2060\ufeff\u00ad",
}
_MULTI: dict[str, str] = {"\u2026": "...", "\u2025": ".."}  # horizontal ellipsis, two-dot leader
# Fullwidth ASCII (U+FF01–U+FF5E) is ASCII shifted by 0xFEE0; only the ones whose ASCII twin is GSM-7.
_FULLWIDTH = {chr(code + 0xFEE0): chr(code) for code in range(0x21, 0x7F) if chr(code) in GSM7_BASIC | GSM7_EXTENSION}

# Every look-alike and the GSM-7 text it becomes.
LOOKALIKES: dict[str, str] = {
    **{char: target for target, chars in _GROUPS.items() for char in chars},
    **_MULTI,
    **_FULLWIDTH,
}
_TABLE = str.maketrans(LOOKALIKES)


def replace_lookalikes(text: str) -> str:
    """``text`` with every look-alike of ``LOOKALIKES`` replaced, whatever the rest of the text."""
    return text.translate(_TABLE)


def smart_encode(text: str) -> str:
    """The look-alike-free text when that makes it GSM-7 in no more segments than ``text``; otherwise ``text`` itself."""
    replaced = replace_lookalikes(text)
    if replaced == text or encoding_of(replaced) != "GSM7":
        return text
    return replaced if count(replaced).segments <= count(text).segments else text
