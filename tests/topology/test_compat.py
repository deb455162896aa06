"""BACKWARD compatibility, case by case: each kind of problem is named with the path of its field."""
from __future__ import annotations

import copy
import json

import pytest

import schemas
from topology.compat import backward_problems


def record(*fields: dict, name: str = "Thing") -> dict:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields)}


def one(field_type: object, **extra: object) -> dict:
    """A record with a single field ``v`` of this type."""
    return record({"name": "v", "type": field_type, **extra})


def enum(*symbols: str, **extra: object) -> dict:
    return {"type": "enum", "name": "S", "symbols": list(symbols), **extra}


@pytest.mark.parametrize("name", schemas.topic_value_schemas())
def test_every_schema_reads_itself(name: str) -> None:
    parsed = json.loads(schemas.schema_json(name))
    assert backward_problems(parsed, parsed) == []


def test_an_added_field_with_a_default_is_compatible() -> None:
    old = record({"name": "a", "type": "string"})
    new = record({"name": "a", "type": "string"}, {"name": "b", "type": ["null", "int"], "default": None},
                 {"name": "c", "type": "int", "default": 0})
    assert backward_problems(old, new) == []


def test_an_added_field_without_a_default_is_named() -> None:
    old = record({"name": "a", "type": "string"})
    new = record({"name": "a", "type": "string"}, {"name": "priority", "type": "int"})
    assert backward_problems(old, new) == ["Thing.priority: added without a default"]


def test_a_removed_field_is_fine_for_backward_readers() -> None:
    assert backward_problems(record({"name": "a", "type": "string"}, {"name": "b", "type": "int"}),
                             record({"name": "a", "type": "string"})) == []


def test_a_renamed_field_reads_through_its_alias() -> None:
    old = record({"name": "msisdn", "type": "string"})
    assert backward_problems(old, record({"name": "e164", "type": "string", "aliases": ["msisdn"]})) == []
    assert backward_problems(old, record({"name": "e164", "type": "string"})) == ["Thing.e164: added without a default"]


@pytest.mark.parametrize("writer, reader", [
    ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"), ("long", "double"), ("float", "double"),
    ("string", "bytes"), ("bytes", "string"),
])
def test_avro_promotions_are_compatible(writer: str, reader: str) -> None:
    assert backward_problems(one(writer), one(reader)) == []


@pytest.mark.parametrize("writer, reader", [
    ("long", "int"), ("double", "float"), ("float", "long"), ("string", "int"), ("boolean", "string"), ("int", "boolean"),
    ("null", "string"), ("bytes", "double"),
])
def test_other_primitive_changes_are_named(writer: str, reader: str) -> None:
    assert backward_problems(one(writer), one(reader)) == [f"Thing.v: type changed from {writer} to {reader}"]


def test_logical_types_do_not_take_part() -> None:
    millis = {"type": "long", "logicalType": "timestamp-millis"}
    assert backward_problems(one(millis), one("long")) == []
    assert backward_problems(one("int"), one(millis)) == []
    assert backward_problems(one(millis), one("string")) == ["Thing.v: type changed from long to string"]


def test_nested_records_are_named_by_path() -> None:
    inner_old = {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "int"}]}
    inner_new = {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "string"}, {"name": "y", "type": "string"}]}
    assert backward_problems(record({"name": "inner", "type": inner_old}), record({"name": "inner", "type": inner_new})) == [
        "Thing.inner.x: type changed from int to string", "Thing.inner.y: added without a default"]


def test_a_record_replaced_by_another_name_is_named() -> None:
    a = {"type": "record", "name": "A", "fields": []}
    b = {"type": "record", "name": "B", "fields": []}
    assert backward_problems(one(a), one(b)) == ["Thing.v: type changed from A to B"]
    assert backward_problems(one(a), one({**b, "aliases": ["A"]})) == []


def test_removed_enum_symbols_are_each_named() -> None:
    old = one(enum("A", "B", "C", "D"))
    assert backward_problems(old, one(enum("A", "B"))) == [
        "Thing.v: symbol C removed without an enum default", "Thing.v: symbol D removed without an enum default"]
    assert backward_problems(old, one(enum("A", "B", default="A"))) == []
    assert backward_problems(old, one(enum("A", "B", "C", "D", "E"))) == []


def test_a_nullable_field_made_required_is_named() -> None:
    assert backward_problems(one(["null", "string"], default=None), one("string")) == [
        "Thing.v: type changed from [null, string] to string (null values cannot be read)"]


def test_a_union_branch_removed_is_named() -> None:
    assert backward_problems(one(["null", "string", "int"], default=None), one(["null", "string"], default=None)) == [
        "Thing.v: union branch int removed"]


def test_a_union_may_grow_or_promote() -> None:
    assert backward_problems(one(["null", "string"], default=None), one(["null", "string", "int"], default=None)) == []
    assert backward_problems(one("int"), one(["null", "long"], default=None)) == []
    assert backward_problems(one(["int", "string"]), one(["double", "bytes"])) == []
    assert backward_problems(one(["null", "int"], default=None), one("long")) == [
        "Thing.v: type changed from [null, int] to long (null values cannot be read)"]


def test_a_value_made_a_union_without_its_type_is_named() -> None:
    assert backward_problems(one("int"), one(["null", "string"], default=None)) == ["Thing.v: type changed from int to [null, string]"]


def test_a_field_inside_a_nullable_record_is_named_through_the_union() -> None:
    inner_old = {"type": "record", "name": "Campaign", "fields": [{"name": "id", "type": "string"}]}
    inner_new = {"type": "record", "name": "Campaign", "fields": [{"name": "id", "type": "string"}, {"name": "budget", "type": "long"}]}
    old = one(["null", inner_old], default=None)
    new = one(["null", inner_new], default=None)
    assert backward_problems(old, new) == ["Thing.v.budget: added without a default"]
    assert backward_problems(one(inner_old), new) == ["Thing.v.budget: added without a default"]


def test_arrays_and_maps_are_named_by_their_items_and_values() -> None:
    assert backward_problems(one({"type": "array", "items": "int"}), one({"type": "array", "items": "string"})) == [
        "Thing.v[]: type changed from int to string"]
    assert backward_problems(one({"type": "map", "values": "int"}), one({"type": "map", "values": "long"})) == []
    assert backward_problems(one({"type": "map", "values": "long"}), one({"type": "map", "values": "int"})) == [
        "Thing.v{}: type changed from long to int"]
    assert backward_problems(one({"type": "array", "items": "int"}), one({"type": "map", "values": "int"})) == [
        "Thing.v: type changed from array<int> to map<int>"]


def test_an_array_of_records_names_the_field_of_its_items() -> None:
    item_old = {"type": "record", "name": "Part", "fields": [{"name": "text", "type": "string"}]}
    item_new = {"type": "record", "name": "Part", "fields": [{"name": "text", "type": "string"}, {"name": "encoding", "type": "string"}]}
    assert backward_problems(one({"type": "array", "items": item_old}), one({"type": "array", "items": item_new})) == [
        "Thing.v[].encoding: added without a default"]


def test_fixed_sizes_must_agree() -> None:
    assert backward_problems(one({"type": "fixed", "name": "F", "size": 4}), one({"type": "fixed", "name": "F", "size": 8})) == [
        "Thing.v: fixed size changed from 4 to 8"]
    assert backward_problems(one({"type": "fixed", "name": "F", "size": 4}), one({"type": "fixed", "name": "F", "size": 4})) == []


def test_references_to_named_types_are_followed() -> None:
    status = {"type": "enum", "name": "Status", "namespace": "t", "symbols": ["OK", "FAILED"]}
    old = record({"name": "first", "type": status}, {"name": "second", "type": "t.Status"})
    new = record({"name": "first", "type": {**status, "symbols": ["OK"]}}, {"name": "second", "type": "Status"})
    assert backward_problems(old, new) == ["Thing.first: symbol FAILED removed without an enum default",
                                           "Thing.second: symbol FAILED removed without an enum default"]


def test_recursive_types_terminate() -> None:
    node = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"], "default": None}]}
    grown = {"type": "record", "name": "Node", "fields": [*node["fields"], {"name": "label", "type": "string"}]}
    assert backward_problems(node, node) == []
    assert backward_problems(node, grown) == ["Node.label: added without a default"]


def test_a_shared_type_is_checked_where_it_is_used() -> None:
    old = json.loads(schemas.schema_json("Receipt"))
    new = copy.deepcopy(old)
    context = next(f for f in new["fields"] if f["name"] == "context")["type"]
    context["fields"].append({"name": "campaign_budget", "type": "string", "doc": "added carelessly"})
    assert backward_problems(old, new) == ["Receipt.context.campaign_budget: added without a default"]


def test_every_problem_of_a_schema_is_listed() -> None:
    old = record({"name": "a", "type": "int"}, {"name": "s", "type": enum("X", "Y")})
    new = record({"name": "a", "type": "string"}, {"name": "s", "type": enum("X")}, {"name": "b", "type": "long"})
    assert backward_problems(old, new) == ["Thing.a: type changed from int to string", "Thing.s: symbol Y removed without an enum default",
                                           "Thing.b: added without a default"]
