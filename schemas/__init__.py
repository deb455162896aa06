"""The Avro contracts between stages: one ``courrier.<Name>.avsc`` per topic value plus shared named types.

Shared types (``MessageContext``, ``Recipient``, ``Sender``…) live in their own files and are
inlined when a topic schema is loaded, so each registered schema is self-contained.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastavro.schema import load_schema, parse_schema

SCHEMA_DIR = Path(__file__).resolve().parent


def schema_path(name: str) -> Path:
    """Path of the schema file for ``name`` (``SendRequested`` or ``courrier.SendRequested``)."""
    full = name if "." in name else f"courrier.{name}"
    path = SCHEMA_DIR / f"{full}.avsc"
    if not path.exists():
        raise KeyError(f"no schema {full!r} in {SCHEMA_DIR}")
    return path


@lru_cache(maxsize=None)
def schema_json(name: str) -> str:
    """The self-contained schema text (shared types inlined), as registered in the registry."""
    return json.dumps(load_schema(schema_path(name), _write_hint=False), separators=(",", ":"))


def parsed_schema(name: str) -> dict[str, Any]:
    """The schema parsed by fastavro, ready for ``schemaless_reader``/``schemaless_writer``."""
    return parse_schema(json.loads(schema_json(name)))


def topic_value_schemas() -> list[str]:
    """Names of every schema file in the folder (shared types included)."""
    return sorted(p.name[len("courrier."):-len(".avsc")] for p in SCHEMA_DIR.glob("courrier.*.avsc"))
