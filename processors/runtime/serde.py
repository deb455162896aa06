"""Confluent wire format (magic byte, 4-byte schema id, Avro body) with cavro on the hot path.

The registry stays the source of schema ids and writer schemas; compiled schemas are cached so a
record costs one ``binary_encode``/``binary_read`` call. A record written with another
(compatible) schema id is resolved against our reader schema, as Avro schema resolution says.

Why cavro and not fastavro (which the schema files, the fuzzer and the passthrough baseline still use): on our
records it encodes and decodes 1.8–2.8× faster, byte for byte the same (``bench stages``, and
``tests/processors/runtime/test_serde.py`` compares the two). Its options are set to what fastavro did: a
missing optional field is null, a naive datetime is UTC, an instant is written to the exact millisecond.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Callable, Iterable, Mapping

import cavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from common.errors import DecodeError, TransientError, UnreachableError
import schemas
from topology.topics import subject, topic as declared_topic

MAGIC = 0
_HEADER = struct.Struct(">bI")
# alternate_timestamp_millis_encoding: the exact integer arithmetic fastavro uses, not float seconds × 1000, which
# can be a millisecond off.
OPTIONS = cavro.DEFAULT_OPTIONS.replace(record_decodes_to_dict=True, missing_values_can_be_null=True, naive_dt_assume_utc=True,
                                        alternate_timestamp_millis_encoding=True)
# Read after a value: it reads one byte, so it fails (EOFError) exactly when the value took the whole body.
_ONE_MORE_BYTE = cavro.Schema('{"type": "fixed", "name": "one_more_byte", "size": 1}')
Reader = Any  # a cavro.Schema, or the cavro.ResolvedSchema of a writer schema read as our reader schema


def compiled(schema_text: str) -> cavro.Schema:
    """A schema text compiled for ``binary_encode``/``binary_read`` with Courrier's options."""
    return cavro.Schema(schema_text, options=OPTIONS)


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
        self._writers: dict[str, tuple[bytes, cavro.Schema]] = {}
        self._own_json: dict[str, Any] = {}  # logical topic → its schema's JSON as registered (cavro's schema_str differs)
        self._writer_schemas: dict[int, tuple[Any, cavro.Schema]] = {}  # schema id → (its JSON, compiled)
        self._plans: dict[tuple[str, int], Reader] = {}

    def prepare(self, logical_topics: Iterable[str]) -> None:
        """Register and cache the schemas of these topics now, so a bad registry fails at start and not mid-batch."""
        for logical in logical_topics:
            self._schema_for(logical)

    def _schema_for(self, logical: str) -> tuple[bytes, cavro.Schema]:
        cached = self._writers.get(logical)
        if cached is not None:
            return cached
        schema_name = declared_topic(logical).value_schema
        if schema_name is None:
            raise KeyError(f"topic {logical!r} carries other topics' bytes and has no value schema")
        text = schemas.schema_json(schema_name)
        schema = compiled(text)
        schema_id = self._register(subject(self._physical(logical)), text)
        self._writers[logical] = (_HEADER.pack(MAGIC, schema_id), schema)
        self._own_json[logical] = json.loads(text)
        self._writer_schemas.setdefault(schema_id, (self._own_json[logical], schema))
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
        header, schema = self._schema_for(logical_topic)
        return header + schema.binary_encode(value)

    def decode(self, logical_topic: str, data: bytes | None) -> dict[str, Any]:
        """The value of a wire-format record; ``DecodeError`` for garbage, unknown schema ids or a truncated body."""
        if data is None or len(data) < _HEADER.size:
            raise DecodeError("record value is empty or shorter than the 5-byte wire-format header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError(f"unknown magic byte {magic} (expected Confluent wire format, magic 0)")
        reader = self._reading(logical_topic, schema_id)
        body = cavro.MemoryReader(memoryview(data)[_HEADER.size:])
        try:
            value = reader.binary_read(body)
        except Exception as exc:  # cavro raises EOFError, ValueError, KeyError, UnicodeDecodeError… for bad bodies
            raise DecodeError(f"body does not decode with schema id {schema_id}: {exc.__class__.__name__}: {exc}") from exc
        try:
            _ONE_MORE_BYTE.binary_read(body)
        except EOFError:
            return value
        # A value followed by other bytes is not the value its writer meant: refuse it whole.
        raise DecodeError(f"{1 + _bytes_left(body)} bytes left after the Avro value of schema id {schema_id}")

    def _reading(self, logical: str, schema_id: int) -> Reader:
        """How to read ``schema_id``'s bodies as ``logical``'s values: our schema itself when the writer's is the same,
        else the writer's resolved against ours.

        Decided once per (topic, schema id): schemas equal in content are the same schema even when parsed apart, e.g.
        one id the registry gives two topics sharing a schema (``rendered`` and ``rendered-transactional``)."""
        plan = self._plans.get((logical, schema_id))
        if plan is None:
            reader = self._schema_for(logical)[1]
            writer_json, writer = self._writer_schema(schema_id)
            if writer is reader or writer_json == self._own_json[logical]:
                plan = reader
            else:
                try:
                    plan = reader.reader_for_writer(writer)
                except Exception as exc:  # not a schema ours can read, as Avro's resolution rules say
                    # The class, not the message: cavro's prints both schemas whole.
                    raise DecodeError(f"body does not decode with schema id {schema_id}: its writer schema cannot be read as "
                                      f"{logical}'s ({exc.__class__.__name__})") from exc
            self._plans[(logical, schema_id)] = plan
        return plan

    def _writer_schema(self, schema_id: int) -> tuple[Any, cavro.Schema]:
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
            parsed = (json.loads(registered.schema_str), compiled(registered.schema_str))
        except Exception as exc:  # not JSON, or JSON that is no Avro schema: the record is unreadable, not the stage broken
            raise DecodeError(f"schema id {schema_id} does not parse as an Avro schema: {exc.__class__.__name__}: {exc}") from exc
        self._writer_schemas[schema_id] = parsed
        return parsed


def _bytes_left(body: cavro.MemoryReader) -> int:
    """How many bytes ``body`` has left, read one by one (only for a record refused for them)."""
    left = 0
    while True:
        try:
            _ONE_MORE_BYTE.binary_read(body)
        except EOFError:
            return left
        left += 1
