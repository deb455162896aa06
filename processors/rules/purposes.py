"""What a template is for, as its file declares (``purpose = "marketing"``): read by consent to keep marketing off the
transactional lane, where no opt-in is asked for.

Only the ``purpose`` key of each ``*.toml`` is read here (the render stage owns the rest of the file and checks it);
a file that does not parse declares nothing.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

# The bundled templates, the render stage's default folder (processors/render/templates.py DEFAULT_DIR).
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "render" / "templates"
MARKETING = "marketing"


def marketing_templates(directory: Path = BUNDLED_DIR) -> frozenset[str]:
    """The ids (file names without .toml) of the templates of ``directory`` that declare ``purpose = "marketing"``."""
    found = set()
    for path in sorted(directory.glob("*.toml")):
        try:
            purpose = tomllib.loads(path.read_text(encoding="utf-8")).get("purpose")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # the render stage refuses the file and names the problem
        if purpose == MARKETING:
            found.add(path.stem)
    return frozenset(found)
