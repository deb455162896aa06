"""Folding inbound text for keyword matching: accents and case removed, so ``Arrêt``, ``ARRET`` and ``arret`` agree."""
from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """``text`` casefolded, NFKD-decomposed and stripped of combining marks (``ARRÊT`` → ``arret``, ``ﬁ`` → ``fi``)."""
    # Decompose before casefolding (𝐀 is only an A once decomposed) and after (some folds, İ → i̇, add combining marks).
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def compact(text: str) -> str:
    """Only the letters and digits of ``fold(text)``: how a whole-message keyword is compared (``Opt-out!`` → ``optout``)."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def phrase(text: str) -> str:
    """The words of ``fold(text)`` joined by one space: what fuzzy patterns search (``m'envoyer`` → ``m envoyer``)."""
    return " ".join(_WORD.findall(fold(text)))
