"""An Avro schema of ``schemas/`` as an Arrow schema, so a warehouse export's Parquet columns follow the topic's contract.

Records become structs, ``["null", T]`` a nullable T (every other Avro type is required), enums strings (their
symbols kept in the field's metadata), ``timestamp-millis`` a UTC timestamp in milliseconds, arrays lists and maps
string-keyed maps; each field's ``doc`` is kept as metadata. A union of two non-null types has no Arrow column type
and is refused (no Courrier schema has one).
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

import schemas

PRIMITIVES: dict[str, pa.DataType] = {
    "null": pa.null(), "boolean": pa.bool_(), "int": pa.int32(), "long": pa.int64(), "float": pa.float32(),
    "double": pa.float64(), "string": pa.string(), "bytes": pa.binary(),
}
LOGICAL: dict[str, pa.DataType] = {
    "timestamp-millis": pa.timestamp("ms", tz="UTC"), "timestamp-micros": pa.timestamp("us", tz="UTC"), "date": pa.date32(),
}


class UnsupportedAvro(ValueError):
    """An Avro construct with no Arrow equivalent here."""


def arrow_schema(avro_name: str) -> pa.Schema:
    """The Arrow schema of ``schemas/courrier.<avro_name>.avsc`` (a record), its doc in the schema's metadata."""
    avro = json.loads(schemas.schema_json(avro_name))
    if avro.get("type") != "record":
        raise UnsupportedAvro(f"{avro_name} is not a record schema")
    named: dict[str, pa.DataType] = {}
    fields = [_field(field, named) for field in avro["fields"]]
    return pa.schema(fields, metadata={"avro_schema": avro["name"], "doc": avro.get("doc", "")})


def _field(field: dict[str, Any], named: dict[str, pa.DataType]) -> pa.Field:
    avro_type, nullable = _unwrap_null(field["type"])
    metadata = {"doc": field.get("doc", "")}
    if isinstance(avro_type, dict) and avro_type.get("type") == "enum":
        metadata["avro_enum"] = ",".join(avro_type["symbols"])
    return pa.field(field["name"], _type(avro_type, named), nullable=nullable, metadata=metadata)


def _unwrap_null(avro_type: Any) -> tuple[Any, bool]:
    """(the type, whether null is allowed) of a field's type: ``["null", T]`` is a nullable T."""
    if not isinstance(avro_type, list):
        return avro_type, avro_type == "null"
    others = [t for t in avro_type if t != "null"]
    if len(others) != 1:
        raise UnsupportedAvro(f"union {avro_type} has {len(others)} non-null branches; only [\"null\", T] maps to a column")
    return others[0], len(others) < len(avro_type)


def _type(avro_type: Any, named: dict[str, pa.DataType]) -> pa.DataType:
    if isinstance(avro_type, str):
        if avro_type in PRIMITIVES:
            return PRIMITIVES[avro_type]
        if avro_type in named:  # a named type defined earlier in the schema, referenced by name
            return named[avro_type]
        raise UnsupportedAvro(f"unknown Avro type {avro_type!r}")
    if isinstance(avro_type, list):
        inner, _nullable = _unwrap_null(avro_type)
        return _type(inner, named)
    kind = avro_type["type"]
    if avro_type.get("logicalType") in LOGICAL:
        return LOGICAL[avro_type["logicalType"]]
    if kind == "record":
        built: pa.DataType = pa.struct([_field(field, named) for field in avro_type["fields"]])
    elif kind == "enum":
        built = pa.string()
    elif kind == "array":
        built = pa.list_(_type(avro_type["items"], named))
    elif kind == "map":
        built = pa.map_(pa.string(), _type(avro_type["values"], named))
    elif kind == "fixed":
        built = pa.binary(avro_type["size"])
    elif kind in PRIMITIVES:  # {"type": "string"} and the like, without a logical type we know
        return PRIMITIVES[kind]
    else:
        raise UnsupportedAvro(f"unsupported Avro type {kind!r}")
    if "name" in avro_type:
        named[avro_type["name"]] = built
        named[avro_type["name"].rsplit(".", 1)[-1]] = built
    return built
