"""BACKWARD compatibility with the path of every problem."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, strategies as st

import schemas
from topology.compat import backward_problems


def record(*fields: dict, name: str = "Thing") -> dict:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields)}


@pytest.mark.parametrize("name", schemas.topic_value_schemas())
def test_every_schema_reads_itself(name: str) -> None:
    parsed = json.loads(schemas.schema_json(name))
    assert backward_problems(parsed, parsed) == []


def test_an_added_field_with_a_default_is_compatible() -> None:
    old = record({"name": "a", "type": "string"})
    new = record({"name": "a", "type": "string"}, {"name": "b", "type": ["null", "int"], "default": None})
    assert backward_problems(old, new) == []


def test_an_added_field_without_a_default_is_named() -> None:
    old = record({"name": "a", "type": "string"})
    new = record({"name": "a", "type": "string"}, {"name": "priority", "type": "int"})
    assert backward_problems(old, new) == ["Thing.priority: added without a default"]


def test_a_removed_field_is_fine_for_backward_readers() -> None:
    assert backward_problems(record({"name": "a", "type": "string"}, {"name": "b", "type": "int"}),
                             record({"name": "a", "type": "string"})) == []


@pytest.mark.parametrize("writer, reader, ok", [
    ("int", "long", True), ("int", "double", True), ("long", "float", True), ("float", "double", True),
    ("string", "bytes", True), ("bytes", "string", True), ("long", "int", False), ("double", "float", False),
    ("string", "int", False), ("boolean", "string", False),
])
def test_promotions_follow_the_avro_spec(writer: str, reader: str, ok: bool) -> None:
    problems = backward_problems(record({"name": "v", "type": writer}), record({"name": "v", "type": reader}))
    assert (problems == []) is ok
    if not ok:
        assert problems == [f"Thing.v: type changed from {writer} to {reader}"]


def test_nested_records_are_named_by_path() -> None:
    inner_old = {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "int"}]}
    inner_new = {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "string"}]}
    assert backward_problems(record({"name": "inner", "type": inner_old}), record({"name": "inner", "type": inner_new})) == [
        "Thing.inner.y: added without a default"]


def test_enum_symbols_removed_without_a_default_are_named() -> None:
    old = record({"name": "s", "type": {"type": "enum", "name": "S", "symbols": ["A", "B", "C"]}})
    new = record({"name": "s", "type": {"type": "enum", "name": "S", "symbols": ["A", "B"]}})
    assert backward_problems(old, new) == ["Thing.s: enum symbol(s) C removed and the enum has no default"]
    new["fields"][0]["type"]["default"] = "A"
    assert backward_problems(old, new) == []


def test_unions_need_a_branch_for_every_written_branch() -> None:
    old = record({"name": "u", "type": ["null", "string"], "default": None})
    assert backward_problems(old, record({"name": "u", "type": ["null", "string", "int"], "default": None})) == []
    assert backward_problems(old, record({"name": "u", "type": "string"})) != []
    assert backward_problems(record({"name": "u", "type": "int"}), record({"name": "u", "type": ["null", "long"], "default": None})) == []


def test_arrays_maps_and_fixed() -> None:
    assert backward_problems(record({"name": "a", "type": {"type": "array", "items": "int"}}),
                             record({"name": "a", "type": {"type": "array", "items": "string"}})) == [
        "Thing.a[]: type changed from int to string"]
    assert backward_problems(record({"name": "m", "type": {"type": "map", "values": "int"}}),
                             record({"name": "m", "type": {"type": "map", "values": "long"}})) == []
    assert backward_problems(record({"name": "f", "type": {"type": "fixed", "name": "F", "size": 4}}),
                             record({"name": "f", "type": {"type": "fixed", "name": "F", "size": 8}})) == [
        "Thing.f: fixed size changed from 4 to 8"]


def test_a_shared_type_is_checked_where_it_is_used() -> None:
    old = json.loads(schemas.schema_json("Receipt"))
    new = copy.deepcopy(old)
    context = next(f for f in new["fields"] if f["name"] == "context")["type"]
    context["fields"].append({"name": "tenant", "type": "string", "doc": "added carelessly"})
    assert backward_problems(old, new) == ["Receipt.context.tenant: added without a default"]


@given(st.lists(st.sampled_from(["int", "long", "float", "double", "string", "bytes", "boolean"]), min_size=1, max_size=6))
def test_adding_optional_fields_never_breaks_a_schema(types: list[str]) -> None:
    old = record(*({"name": f"f{i}", "type": t} for i, t in enumerate(types)))
    new = record(*old["fields"], *({"name": f"extra{i}", "type": ["null", t], "default": None} for i, t in enumerate(types)))
    assert backward_problems(old, new) == []
