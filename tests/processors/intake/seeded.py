"""The template store an intake sees once it has seeded the bundled templates, for intake apps built without their
lifespan (no broker): ``app.state.service.templates = bundled_index()``."""
from __future__ import annotations

from datetime import datetime, timezone

from processors.rules.templates import DEFAULT_DIR
from processors.templates_store.catalog import seed_records
from processors.rules.template_versions import TemplateIndex


def bundled_index() -> TemplateIndex:
    """A store index holding the bundled templates, published, as seeding leaves it."""
    index = TemplateIndex()
    for output in seed_records(DEFAULT_DIR, index, datetime.now(timezone.utc)):
        index.take(output.key, output.value)
    return index
