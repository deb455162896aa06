"""The render stage: ``channel-resolved`` → ``rendered`` (keyed by sender id) and ``links``, or a rejected receipt."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from processors.render.links import link_base
from processors.render.logic import DEFAULT_FOOTERS, load_footers, render_message
from processors.render.media import MediaPreparer
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits
from processors.rules.templates import DEFAULT_DIR, Template, load
from processors.failed import beside_dead_letter
from processors.runtime.stage import Event, Output, RecordMeta


class RenderStage:
    """Fills each request's template for its channel, language and lane.

    ``templates``: the template store (``processors.templates_store.catalog.TemplateCatalog``: the version a request
    names, else the latest published); without it, the TOML files of ``templates_dir``, loaded once (tests, tools).

    ``media`` fetches and stores MMS media (``MediaPipeline.from_settings``; without one, a message with media
    dead-letters); ``link_domain`` turns on short links (without it, URLs are sent as written).
    """

    name = "render"
    inputs = ("channel-resolved",)

    def __init__(self, templates_dir: Path = DEFAULT_DIR, footers_path: Path = DEFAULT_FOOTERS,
                 rcs_limits: RcsLimits = DEFAULT_LIMITS, *, media: MediaPreparer | None = None,
                 link_domain: str | None = None, footers: Mapping[str, str] | None = None,
                 templates: Mapping[str, Template] | None = None) -> None:
        self._rcs_limits = rcs_limits
        self._templates = templates if templates is not None else load(Path(templates_dir), rcs_limits)
        self._footers = dict(footers) if footers is not None else load_footers(footers_path)
        self._media = media
        self._link_base = link_base(link_domain) if link_domain else None

    def dead_letter_outputs(self, event: Event, error: BaseException, meta: RecordMeta) -> list[Output]:
        """The message's ``FAILED`` receipt beside its dead-letter record (``processors.failed``)."""
        return beside_dead_letter(self.name, event, error, meta)

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        return render_message(event, self._templates, self._footers, meta.now, self._rcs_limits,
                              media=self._media, link_base=self._link_base)
