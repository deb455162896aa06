"""What a template is for, as its file declares (``purpose = "marketing"``): read by consent to keep marketing off the
transactional lane, where no opt-in is asked for.

Only the ``purpose`` key of each ``*.toml`` is read here (``templates`` reads the rest of the file and checks it);
a file that does not parse declares nothing.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from processors.rules.bundled_templates import DEFAULT_DIR

MARKETING = "marketing"


def marketing_templates(directory: Path = DEFAULT_DIR) -> frozenset[str]:
    """The ids (file names without .toml) of the templates of ``directory`` that declare ``purpose = "marketing"``."""
    found = set()
    for path in sorted(directory.glob("*.toml")):
        try:
            purpose = tomllib.loads(path.read_text(encoding="utf-8")).get("purpose")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue  # templates.parse refuses the file and names the problem
        if purpose == MARKETING:
            found.add(path.stem)
    return frozenset(found)
