"""Confluent wire format (magic byte, 4-byte schema id, Avro body) with fastavro on the hot path.

The registry stays the source of schema ids and writer schemas; parsed schemas are cached so a
record costs one ``schemaless_reader``/``schemaless_writer`` call. A record written with another
(compatible) schema id is resolved against our reader schema, as Avro schema resolution says.
"""
from __future__ import annotations

import io
import json
import struct
from typing import Any, Callable, Iterable, Mapping

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import parse_schema, schemaless_reader, schemaless_writer

import schemas
from processors.runtime.errors import DecodeError, TransientError, UnreachableError
from topology.topics import subject, topic as declared_topic

MAGIC = 0
_HEADER = struct.Struct(">bI")


class AvroSerde:
    """Encodes and decodes the values of logical topics; one instance per process, built once."""

    def __init__(self, registry_url: str, physical: Callable[[str], str], registry: SchemaRegistryClient | None = None) -> None:
        """``physical`` maps a logical topic to its physical name (the registry subject is the physical topic's).

        A topic's local schema is registered (idempotently) the first time it is used, to learn its id;
        ``UnreachableError`` when the registry does not answer.
        """
        self._registry_url = registry_url
        self._physical = physical
        self._registry = registry or SchemaRegistryClient.new_client({"url": registry_url, "timeout": 10})
        self._readers: dict[str, dict[str, Any]] = {}
        self._writers: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self._writer_schemas: dict[int, dict[str, Any]] = {}
        self._plans: dict[tuple[str, int], tuple[dict[str, Any], dict[str, Any] | None]] = {}

    def prepare(self, logical_topics: Iterable[str]) -> None:
        """Register and cache the schemas of these topics now, so a bad registry fails at start and not mid-batch."""
        for logical in logical_topics:
            self._schema_for(logical)

    def _schema_for(self, logical: str) -> tuple[bytes, dict[str, Any]]:
        cached = self._writers.get(logical)
        if cached is not None:
            return cached
        schema_name = declared_topic(logical).value_schema
        if schema_name is None:
            raise KeyError(f"topic {logical!r} carries other topics' bytes and has no value schema")
        parsed = schemas.parsed_schema(schema_name)
        schema_id = self._register(subject(self._physical(logical)), schemas.schema_json(schema_name))
        self._readers[logical] = parsed
        self._writers[logical] = (_HEADER.pack(MAGIC, schema_id), parsed)
        self._writer_schemas[schema_id] = parsed
        return self._writers[logical]

    def _register(self, subject_name: str, schema_text: str) -> int:
        try:
            return self._registry.register_schema(subject_name, Schema(schema_text, "AVRO"))
        except Exception as exc:  # the client raises several types for one cause: the registry did not answer
            raise UnreachableError(
                f"schema registry {self._registry_url} refused {subject_name} or did not answer ({exc.__class__.__name__}: {exc}); "
                "run `courrier infra up registry` or set SCHEMA_REGISTRY_URL"
            ) from exc

    def encode(self, logical_topic: str, value: Mapping[str, Any]) -> bytes:
        """The wire-format bytes of ``value``; raises ``ValueError`` when it does not fit the topic's schema."""
        header, parsed = self._schema_for(logical_topic)
        buffer = io.BytesIO()
        buffer.write(header)
        schemaless_writer(buffer, parsed, value)
        return buffer.getvalue()

    def decode(self, logical_topic: str, data: bytes | None) -> dict[str, Any]:
        """The value of a wire-format record; ``DecodeError`` for garbage, unknown schema ids or a truncated body."""
        if data is None or len(data) < _HEADER.size:
            raise DecodeError("record value is empty or shorter than the 5-byte wire-format header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError(f"unknown magic byte {magic} (expected Confluent wire format, magic 0)")
        writer, reader = self._reading(logical_topic, schema_id)
        body = io.BytesIO(data)
        body.seek(_HEADER.size)
        try:
            value = schemaless_reader(body, writer, reader)
        except Exception as exc:  # fastavro raises EOFError, ValueError, SchemaResolutionError… for bad bodies
            raise DecodeError(f"body does not decode with schema id {schema_id}: {exc.__class__.__name__}: {exc}") from exc
        if body.tell() != len(data):  # a value followed by other bytes is not the value its writer meant: refuse it whole
            raise DecodeError(f"{len(data) - body.tell()} bytes left after the Avro value of schema id {schema_id}")
        return value

    def _reading(self, logical: str, schema_id: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The writer schema of ``schema_id`` and the reader schema to resolve it against, or None when they are the same.

        Decided once per (topic, schema id): schemas equal in content are the same schema (fastavro compares them so
        too) even when parsed apart, e.g. one id the registry gives two topics sharing a schema (``rendered`` and
        ``rendered-transactional``); resolving them would compare the two whole schemas on every record."""
        plan = self._plans.get((logical, schema_id))
        if plan is None:
            reader = self._schema_for(logical)[1]
            writer = self._writer_schema(schema_id)
            plan = (reader, None) if writer is reader or writer == reader else (writer, reader)
            self._plans[(logical, schema_id)] = plan
        return plan

    def _writer_schema(self, schema_id: int) -> dict[str, Any]:
        cached = self._writer_schemas.get(schema_id)
        if cached is not None:
            return cached
        try:
            registered = self._registry.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise DecodeError(f"schema id {schema_id} is unknown to the registry") from exc
            raise TransientError(f"registry could not return schema id {schema_id}: {exc}") from exc
        except Exception as exc:  # connection errors: the record is fine, the registry is not reachable now
            raise TransientError(f"registry could not return schema id {schema_id}: {exc}") from exc
        if (registered.schema_type or "AVRO").upper() != "AVRO":
            raise DecodeError(f"schema id {schema_id} is a {registered.schema_type} schema, not Avro")
        try:
            parsed = parse_schema(json.loads(registered.schema_str))
        except Exception as exc:  # not JSON, or JSON that is no Avro schema: the record is unreadable, not the stage broken
            raise DecodeError(f"schema id {schema_id} does not parse as an Avro schema: {exc.__class__.__name__}: {exc}") from exc
        self._writer_schemas[schema_id] = parsed
        return parsed
