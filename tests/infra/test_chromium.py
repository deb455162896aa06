"""Headless Chromium as the report test uses it: a local page's DOM after its scripts ran, and a screenshot; a page
that cannot load is one line naming it."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import UnreachableError
from infra import chromium

pytestmark = pytest.mark.skipif(chromium.find() is None, reason="no chromium on PATH (`courrier infra fetch chromium`)")


def test_a_page_renders_with_its_scripts_run(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text('<html><body><p id="x">before</p><script>document.getElementById("x").textContent = "after " + (6 * 7);'
                    "</script></body></html>")
    rendered = chromium.render(page, tmp_path / "shot.png", width=400, height=300, budget_ms=2000)
    assert '<p id="x">after 42</p>' in rendered.dom
    assert rendered.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_page_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UnreachableError, match="chromium could not render .*missing.html"):
        chromium.render(tmp_path / "missing.html", tmp_path / "shot.png", width=400, height=300, budget_ms=1000)
