"""Where the templates shipped with Courrier live: the seeds of a fresh template store, and the folder read when no
store or ``templates_dir`` is given.

A module of its own so that a reader of the folder's purposes (consent) does not load the template engine."""
from __future__ import annotations

from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parent / "templates"
