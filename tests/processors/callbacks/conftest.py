"""The callbacks tests use the status tests' receipts and the render tests' network sandbox (stub DNS, no packet out)."""
from __future__ import annotations

import sys
from pathlib import Path

for folder in ("status", "render"):
    path = str(Path(__file__).resolve().parents[1] / folder)
    if path not in sys.path:
        sys.path.append(path)
