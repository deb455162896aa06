"""Imports run one way, down the layers the README's Layout names: ``common`` at the bottom, then ``schemas`` and
``topology``, the runtime, what several stages share (rules, the HTTP pieces, the receipt and dead-letter builders), the
stages, the services and tools, and the CLI (``courrier``) on top. Read from the source (``ast``), nothing imported."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "courrier", "processors", "topology", "infra", "schemas", "sim")
GROUND = {"common", "schemas", "topology", "processors.runtime"}
SHARED = GROUND | {"processors.rules", "processors.web", "processors.receipts", "processors.failed", "processors.fallback"}
STAGES = {f"processors.{name}" for name in ("consent", "channel", "render", "dispatch", "receipt", "keywords", "scheduler",
                                            "status", "callbacks")}


def _room(module: str) -> str:
    """A module's place in the layers: its top-level package, or ``processors.<folder or file>``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "processors" and len(parts) > 1 else parts[0]


def _imports() -> dict[str, set[str]]:
    """Every place → the other places its modules import (at any depth of the code, lazy imports included)."""
    found: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            here = _room(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    named = [node.module] if node.module != "processors" else [f"processors.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    named = [alias.name for alias in node.names]
                else:
                    continue
                found[here] |= {_room(name) for name in named if name.split(".")[0] in PACKAGES} - {here}
    return found


IMPORTS = _imports()


def test_the_ground_floor_imports_nothing_of_courrier_s_own() -> None:
    assert IMPORTS["common"] == set()
    assert IMPORTS["schemas"] <= {"common"}
    assert IMPORTS["topology"] <= {"common", "schemas"}
    assert IMPORTS["processors.runtime"] <= {"common", "schemas", "topology"}


def test_what_stages_share_stands_on_the_ground_alone() -> None:
    for shared in SHARED - GROUND:
        assert IMPORTS[shared] <= SHARED, f"{shared} imports {sorted(IMPORTS[shared] - SHARED)}"


def test_no_stage_imports_another_stage() -> None:
    for stage in STAGES:
        assert not IMPORTS[stage] & (STAGES - {stage}), f"{stage} imports {sorted(IMPORTS[stage] & STAGES)}"


def test_only_the_cli_imports_the_cli_package() -> None:
    assert not [place for place, imported in IMPORTS.items() if "courrier" in imported and place != "courrier"]


def test_the_reading_sees_the_whole_house() -> None:
    assert {"processors.dispatch", "processors.intake", "infra", "courrier"} <= set(IMPORTS)
    assert "processors.runtime" in IMPORTS["processors.dispatch"] and "common" in IMPORTS["processors.dispatch"]
