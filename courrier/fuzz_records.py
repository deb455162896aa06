"""Malformed records for ``courrier fuzz``: what a broken or hostile producer could put on a stage's input topic.

Four kinds, each a ``FuzzRecord`` whose key is its fuzz id (so its dead-letter copy, which keeps the key, is found):

- ``random_bytes``: bytes that are not the wire format (or are, by chance, with a random schema id);
- ``unknown_schema``: the wire-format header with a schema id the registry never gave, then random bytes;
- ``foreign_schema``: a valid record of another topic's schema (its registered id), on this topic;
- ``absurd_values``: a valid record of the topic's own schema whose fields hold absurd values (empty, huge,
  control characters, extreme numbers and instants), with the fuzz id as its message id when the schema has a
  ``context``, so its receipt is found too.

Pure: values come from a seeded ``random.Random``; encoding with the registry's ids is the caller's (``encode``).
"""
from __future__ import annotations

import random
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("random_bytes", "unknown_schema", "foreign_schema", "absurd_values")
# Ids far above what a registry hands out (they count from 1): "never registered" without asking the registry.
UNKNOWN_ID_BASE = 2_000_000_000
_STRINGS = ("", " ", "\x00", "\u202e\u200b", "+", "+" + "9" * 30, "0" * 40, "../../../etc/passwd", "{{ 7 | times: 7 }}{% raw %}",
            "'; DROP TABLE receipts; --", "\ud7ff" * 8, "🚀" * 300, "A" * 5000, "courrier:message-id:x", "null", "NaN")
_INTS = (0, -1, 1, 2**31 - 1, -(2**31))
_LONGS = (0, -1, 2**63 - 1, -(2**63), 253_402_300_800_000, -62_135_596_800_001)  # past year 9999 and before year 1
# Instants that decode (1970, recent, 2100, the last millisecond of 9999); the _LONGS ones past it only now and then, or
# nearly every absurd record would stop at decoding and the stages' own checks would never see one.
_INSTANTS = (0, 1, 1_800_000_000_000, 4_102_444_800_000, 253_402_300_799_999)
_DOUBLES = (0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324)
Encode = Callable[[str, dict[str, Any]], bytes]


@dataclass(frozen=True)
class FuzzRecord:
    """One record to publish: its fuzz id (the record key), topic, kind and value bytes."""

    fuzz_id: str
    topic: str
    kind: str
    value: bytes


def random_bytes(rng: random.Random) -> bytes:
    """0 to 64 random bytes; a third of them start with the wire format's magic byte 0, so the header is read further."""
    body = rng.randbytes(rng.randint(0, 64))
    return b"\x00" + body if rng.random() < 1 / 3 else body


def unknown_schema(rng: random.Random) -> bytes:
    """The wire-format header with a schema id no registry gave, and a random body."""
    return struct.pack(">bI", 0, UNKNOWN_ID_BASE + rng.randint(0, 100_000_000)) + rng.randbytes(rng.randint(0, 48))


def absurd_value(schema: Any, rng: random.Random, names: dict[str, Any], message_id: str | None = None) -> Any:
    """A value that fits ``schema`` (a fastavro parsed schema) with absurd contents; ``message_id`` for a ``context``'s id."""
    if isinstance(schema, list):
        return absurd_value(rng.choice(schema), rng, names, message_id)
    if isinstance(schema, str):
        if schema in names:
            return absurd_value(names[schema], rng, names, message_id)
        return _primitive(schema, rng)
    kind = schema["type"]
    if isinstance(kind, (dict, list)):
        return absurd_value(kind, rng, names, message_id)
    if kind in ("record", "enum", "fixed") and "name" in schema:
        names[schema["name"]] = schema
    if kind == "record":
        value = {f["name"]: absurd_value(f["type"], rng, names, message_id) for f in schema["fields"]}
        if message_id is not None and "message_id" in value and schema["name"].endswith("MessageContext"):
            value["message_id"] = message_id
        return value
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "fixed":
        return rng.randbytes(schema["size"])
    if kind == "array":
        return [absurd_value(schema["items"], rng, names, message_id) for _ in range(rng.randint(0, 3))]
    if kind == "map":
        return {rng.choice(_STRINGS): absurd_value(schema["values"], rng, names, message_id) for _ in range(rng.randint(0, 3))}
    if schema.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
        return rng.choice(_LONGS) if rng.random() < 0.1 else rng.choice(_INSTANTS)
    return _primitive(kind, rng)


def _primitive(kind: str, rng: random.Random) -> Any:
    if kind == "null":
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice(_INTS)
    if kind == "long":
        return rng.choice(_LONGS)
    if kind in ("float", "double"):
        value = rng.choice(_DOUBLES)
        return value if kind == "double" or abs(value) < 3e38 or value != value or abs(value) == float("inf") else 0.0
    if kind == "string":
        return rng.choice(_STRINGS) if rng.random() < 0.8 else "".join(chr(rng.randint(1, 0xD7FF)) for _ in range(rng.randint(1, 40)))
    if kind == "bytes":
        return rng.randbytes(rng.randint(0, 32))
    raise ValueError(f"no absurd value for Avro type {kind!r}")


def has_context(schema: dict[str, Any]) -> bool:
    """Whether records of ``schema`` are about one message (a ``context`` field): their outcome is a receipt."""
    return any(f["name"] == "context" for f in schema.get("fields", ()))


def records(topic: str, count: int, rng: random.Random, run: str, encode: Encode,
            schemas: Mapping[str, dict[str, Any]]) -> list[FuzzRecord]:
    """``count`` malformed records for ``topic``, the kinds in turn; ``schemas`` holds the parsed value schema of ``topic``
    and of the other topics whose records may be put on it; ``encode(topic, value)`` gives wire-format bytes with
    registered ids.

    ``absurd_values`` only for message topics (``has_context``): elsewhere a valid record may rightly leave no trace.
    """
    schema = schemas[topic]
    kinds = [k for k in KINDS if k != "absurd_values" or has_context(schema)]
    others = sorted(t for t in schemas if schemas[t]["name"] != schema["name"])  # rendered-transactional is Rendered too
    made: list[FuzzRecord] = []
    for i in range(count):
        fuzz_id = f"fuzz-{run}-{topic}-{i:07d}"
        kind = kinds[i % len(kinds)]
        if kind == "random_bytes":
            value = random_bytes(rng)
        elif kind == "unknown_schema":
            value = unknown_schema(rng)
        elif kind == "foreign_schema" and others:
            other = rng.choice(others)
            value = encode(other, absurd_value(schemas[other], rng, {}, fuzz_id))
        else:
            kind = "absurd_values"
            value = encode(topic, absurd_value(schema, rng, {}, fuzz_id))
        made.append(FuzzRecord(fuzz_id, topic, kind, value))
    return made

