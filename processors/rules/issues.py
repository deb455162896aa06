"""A problem with a template or its rendered content, located by its path in the template (``rcs.carousel[1].title``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """What is wrong at ``path``; ``too_long`` marks a length over a limit (a rendered value can cause it)."""

    path: str
    message: str
    too_long: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message
