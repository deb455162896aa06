"""The render stage: ``channel-resolved`` → ``rendered`` (keyed by sender) or a rejected receipt."""
from __future__ import annotations

from pathlib import Path

from processors.render.logic import render_message
from processors.render.templates import DEFAULT_DIR, load
from processors.runtime.stage import Event, Output, RecordMeta


class RenderStage:
    """Fills the request's template (loaded once from a folder of TOML files) for its channel and language."""

    name = "render"
    inputs = ("channel-resolved",)

    def __init__(self, templates_dir: Path = DEFAULT_DIR) -> None:
        self._templates = load(templates_dir)

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        return render_message(event, self._templates, meta.now)
