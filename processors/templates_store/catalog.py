"""The template store as a process sees it: a ``TemplateIndex`` kept current by a ``TopicTable`` of ``templates``.

Render and the intake read templates through one of these (the same ``start``/``stop``/``co_partitioned`` as a table,
so a stage's builder hands it to the runner with its tables). Seed data: ``start(seed_dir=…)`` first publishes
every bundled template (``processors/rules/templates/*.toml``, or ``templates_dir``) whose id the store does not
hold yet, as version 1, published, by ``seed`` — so a fresh deployment (or a test's fresh topic prefix) sends what
it always sent, and a template pushed or edited later is never overwritten by a restart.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from common.config import Settings
from common.errors import UnreachableError
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits
from processors.runtime.stage import Event, Output
from processors.runtime.table import TopicTable
from processors.rules.template_versions import TOPIC, TemplateIndex, new_version, version_key

SEED_AUTHOR = "seed"
_SEED_WAIT_S = 30.0


def seed_records(directory: Path, held: TemplateIndex, now: datetime) -> list[Output]:
    """Version 1 (published, by ``seed``) of every ``<id>.toml`` of ``directory`` whose id ``held`` has no version of."""
    outputs = []
    for path in sorted(directory.glob("*.toml")):
        if held.versions(path.stem):
            continue
        record = new_version({}, path.stem, path.read_text(encoding="utf-8"), SEED_AUTHOR, now,
                             f"bundled template {path.name}", publish=True)
        outputs.append(Output(TOPIC, version_key(path.stem, record["version"]), record))
    return outputs


def seed(settings: Settings, directory: Path) -> list[str]:
    """Publish the templates of ``directory`` the store lacks (``seed_records``) and return their ids; the store is read
    to its end first, so a template pushed or edited since is never overwritten."""
    from processors.access.store import require_topics
    from processors.runtime.publisher import write_now
    from processors.runtime.snapshot import snapshot

    require_topics(settings, (TOPIC,))
    held = TemplateIndex()
    for key, row in snapshot(settings, TOPIC).items():
        held.take(key, row)
    outputs = seed_records(directory, held, datetime.now(timezone.utc))
    if outputs:
        write_now(settings, outputs)
    return [output.value["template_id"] for output in outputs]


class TemplateCatalog(TemplateIndex):
    """The templates topic, indexed: id → latest published template, every version by ``versions``/``resolve``."""

    co_partitioned = False

    def __init__(self, settings: Settings, limits: RcsLimits = DEFAULT_LIMITS, *, seed_dir: Path | None = None,
                 compile: bool = True) -> None:
        """``seed_dir``: publish its templates the store lacks when starting (None: read the store as it is);
        ``compile=False``: purposes only (``TemplateIndex``)."""
        super().__init__(limits, compile=compile)
        self._settings = settings
        self._seed_dir = seed_dir
        self._table = TopicTable(settings, TOPIC)
        self._table.listen(self._heard)

    def _heard(self, key: str, row: Event | None) -> None:
        self.take(key, row)

    def start(self, timeout_s: float = 60.0) -> None:
        """Load the store, then seed it when ``seed_dir`` is set, and return once the seeds are read back; a missing
        topic is an error naming it (seeds written to a topic the broker auto-created, uncompacted, would expire)."""
        from processors.access.store import require_topics

        require_topics(self._settings, (TOPIC,))
        self._table.start(timeout_s)
        if self._seed_dir is None:
            return
        seeds = seed_records(Path(self._seed_dir), self, datetime.now(timezone.utc))
        if not seeds:
            return
        from processors.runtime.publisher import write_now

        write_now(self._settings, seeds)
        wanted = {output.key for output in seeds}
        deadline = time.monotonic() + _SEED_WAIT_S
        while not all(self._has(key) for key in wanted):
            if time.monotonic() > deadline:
                raise UnreachableError(f"the {len(wanted)} seed templates written to {self._settings.topic(TOPIC)} were not "
                                       f"read back within {_SEED_WAIT_S:.0f}s")
            time.sleep(0.05)

    def _has(self, key: str) -> bool:
        template_id, _, version = key.rpartition("@")
        return int(version) in self.versions(template_id)

    def stop(self) -> None:
        self._table.stop()
