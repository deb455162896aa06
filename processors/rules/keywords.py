"""Keyword rules more than one stage applies."""
from __future__ import annotations

# The receipt reason of a marketing message whose sender or subscription group has no STOP or HELP response yet
# (``processors.keywords.completeness`` decides; consent and channel refuse with it).
KEYWORDS_INCOMPLETE = "keywords_incomplete"
