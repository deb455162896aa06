"""Folding inbound text for keyword matching: accents and case removed, so ``Arrêt``, ``ARRET`` and ``arret`` agree."""
from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """``text`` casefolded, NFKD-decomposed and stripped of combining marks (``ARRÊT`` → ``arret``, ``ﬁ`` → ``fi``)."""
    # Marks go before casefolding (it turns U+0345 into the letter ι) and after it (İ folds to i + a combining dot);
    # decomposing first also makes 𝐀 an A that casefold knows.
    return _without_marks(_without_marks(text).casefold())


def _without_marks(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def compact(text: str) -> str:
    """Only the letters and digits of ``fold(text)``: how a whole-message keyword is compared (``Opt-out!`` → ``optout``)."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def phrase(text: str) -> str:
    """The words of ``fold(text)`` joined by one space: what fuzzy patterns search (``m'envoyer`` → ``m envoyer``)."""
    return " ".join(_WORD.findall(fold(text)))
