"""Properties of the compatibility check on generated schemas and evolutions of them.

Two oracles judge it: fastavro (what it calls compatible must actually read data the old schema wrote)
and the running registry (its yes/no must agree with an empty or non-empty problem list).
"""
from __future__ import annotations

import copy
import io
import itertools
import json
import uuid
from typing import Any

import fastavro
import httpx
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from common.config import Settings
from topology.compat import backward_problems

PRIMITIVE_NAMES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
DEFAULTS = {"null": None, "boolean": False, "int": 0, "long": 0, "float": 0.0, "double": 0.0, "bytes": "", "string": ""}
SYMBOLS = ["A", "B", "C", "D", "E"]
primitives = st.sampled_from(PRIMITIVE_NAMES)
enums = st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=5, unique=True).map(
    lambda symbols: {"type": "enum", "name": "?", "symbols": symbols})
fixeds = st.integers(1, 4).map(lambda size: {"type": "fixed", "name": "?", "size": size})


def unions(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list]:
    """Distinct primitives plus at most one other branch (Avro forbids two branches of one unnamed kind)."""
    def build(branches: list[str], extra: Any) -> list:
        return [*branches, extra] if extra is not None and extra not in branches else branches or ["null"]
    return st.builds(build, st.lists(primitives, max_size=3, unique=True), st.none() | children)


def records(field_types: st.SearchStrategy[Any]) -> st.SearchStrategy[dict]:
    return st.lists(field_types, max_size=4).map(
        lambda types: {"type": "record", "name": "?", "fields": [{"name": f"f{i}", "type": t} for i, t in enumerate(types)]})


def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    field_types = children | unions(children)
    return (records(field_types) | field_types.map(lambda t: {"type": "array", "items": t})
            | field_types.map(lambda t: {"type": "map", "values": t}))


non_unions = st.recursive(primitives | enums | fixeds, extend, max_leaves=6)
top_records = records(non_unions | unions(non_unions)).map(lambda schema: named(schema, itertools.count()))


def named(schema: Any, counter: itertools.count) -> Any:
    """Give every named type a unique name (the generators leave ``?``)."""
    if isinstance(schema, list):
        return [named(branch, counter) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if out.get("name") == "?":
        out["name"] = f"N{next(counter)}"
    if "fields" in out:
        out["fields"] = [{**f, "type": named(f["type"], counter)} for f in out["fields"]]
    for key in ("items", "values"):
        if key in out:
            out[key] = named(out[key], counter)
    return out


def spots(schema: Any) -> list[Any]:
    """Every dict or union in the schema that an evolution may edit."""
    found: list[Any] = []
    if isinstance(schema, list):
        found.append(schema)
        for branch in schema:
            found.extend(spots(branch))
    elif isinstance(schema, dict):
        found.append(schema)
        for f in schema.get("fields", []):
            found.extend(spots(f["type"]))
        for key in ("items", "values"):
            if key in schema:
                found.extend(spots(schema[key]))
    return found


def evolve(draw: st.DrawFn, schema: dict) -> dict:
    """The schema after one random edit, of the kinds people make to contracts (compatible or not)."""
    new = copy.deepcopy(schema)
    spot = draw(st.sampled_from(spots(new)))
    if isinstance(spot, list):
        choices = [p for p in PRIMITIVE_NAMES if p not in spot]
        if len(spot) > 1 and draw(st.booleans()):  # never the first branch: a field's default belongs to it
            spot.remove(draw(st.sampled_from(spot[1:])))
        elif choices:
            spot.append(draw(st.sampled_from(choices)))
    elif spot["type"] == "record":
        fields = spot["fields"]
        edit = draw(st.sampled_from(["add", "add-with-default", "add-optional", "remove", "retype", "rename"]))
        kind = draw(primitives)
        taken = {f["name"] for f in fields}
        fresh = next(name for name in (f"x{i}" for i in itertools.count()) if name not in taken)
        if edit == "add":
            fields.append({"name": fresh, "type": kind})
        elif edit == "add-with-default":
            fields.append({"name": fresh, "type": kind, "default": DEFAULTS[kind]})
        elif edit == "add-optional":
            fields.append({"name": fresh, "type": ["null", kind] if kind != "null" else "null", "default": None})
        elif fields:
            index = draw(st.integers(0, len(fields) - 1))
            if edit == "remove":
                del fields[index]
            elif edit == "retype":
                fields[index]["type"] = kind
                if "default" in fields[index]:
                    fields[index]["default"] = DEFAULTS[kind]
            else:
                fields[index]["name"] = fresh
    elif spot["type"] == "enum":
        edit = draw(st.sampled_from(["remove", "add", "default"]))
        removable = [symbol for symbol in spot["symbols"] if symbol != spot.get("default")]  # the default must stay a symbol
        if edit == "remove" and len(spot["symbols"]) > 1 and removable:
            spot["symbols"].remove(draw(st.sampled_from(removable)))
        elif edit == "add" and len(spot["symbols"]) < len(SYMBOLS):
            spot["symbols"].append(draw(st.sampled_from([s for s in SYMBOLS if s not in spot["symbols"]])))
        else:
            spot["default"] = spot["symbols"][0]
    elif spot["type"] == "fixed":
        spot["size"] += draw(st.sampled_from([0, 1]))
    elif spot["type"] == "array":
        spot["items"] = draw(primitives)
    elif spot["type"] == "map":
        spot["values"] = draw(primitives)
    return new


def datum(draw: st.DrawFn, schema: Any) -> Any:
    """A value of ``schema``; union values in fastavro's ``(branch, value)`` notation so the written branch is the drawn one."""
    if isinstance(schema, list):
        branch = draw(st.sampled_from(schema))
        tag = branch if isinstance(branch, str) else branch.get("name", branch["type"])
        return (tag, datum(draw, branch))
    kind = schema if isinstance(schema, str) else schema["type"]
    scalars: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(), "boolean": st.booleans(), "int": st.integers(-2**31, 2**31 - 1), "long": st.integers(-2**63, 2**63 - 1),
        "float": st.floats(width=32, allow_nan=False), "double": st.floats(allow_nan=False), "string": st.text(max_size=5),
        "bytes": st.text(max_size=5).map(str.encode),  # UTF-8, the only bytes the spec's bytes→string promotion is meant for
    }
    if kind in scalars:
        return draw(scalars[kind])
    if kind == "record":
        return {f["name"]: datum(draw, f["type"]) for f in schema["fields"]}
    if kind == "enum":
        return draw(st.sampled_from(schema["symbols"]))
    if kind == "fixed":
        return draw(st.binary(min_size=schema["size"], max_size=schema["size"]))
    if kind == "array":
        return [datum(draw, schema["items"]) for _ in range(draw(st.integers(0, 2)))]
    return {f"k{i}": datum(draw, schema["values"]) for i in range(draw(st.integers(0, 2)))}


@st.composite
def evolutions(draw: st.DrawFn) -> tuple[dict, dict]:
    old = draw(top_records)
    new = old
    for _ in range(draw(st.integers(1, 3))):
        new = evolve(draw, new)
    return old, new


@given(top_records)
def test_a_schema_always_reads_itself(schema: dict) -> None:
    assert backward_problems(schema, schema) == []


@given(top_records, st.lists(primitives, min_size=1, max_size=4))
def test_adding_optional_or_defaulted_fields_never_breaks_a_schema(schema: dict, kinds: list[str]) -> None:
    new = copy.deepcopy(schema)
    new["fields"] += [{"name": f"opt{i}", "type": ["null", k], "default": None} for i, k in enumerate(kinds) if k != "null"]
    new["fields"] += [{"name": f"dflt{i}", "type": k, "default": DEFAULTS[k]} for i, k in enumerate(kinds)]
    assert backward_problems(schema, new) == []


@given(top_records, primitives)
def test_a_field_added_without_a_default_is_named(schema: dict, kind: str) -> None:
    new = copy.deepcopy(schema)
    new["fields"].append({"name": "careless", "type": kind})
    assert backward_problems(schema, new) == [f"{schema['name']}.careless: added without a default"]


@hypothesis_settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(evolutions(), st.data())
def test_what_is_called_compatible_reads_data_the_old_schema_wrote(pair: tuple[dict, dict], data: st.DataObject) -> None:
    old, new = pair
    if backward_problems(old, new):
        return
    writer, reader = fastavro.parse_schema(copy.deepcopy(old)), fastavro.parse_schema(copy.deepcopy(new))
    for _ in range(3):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer, datum(data.draw, old))
        buffer.seek(0)
        fastavro.schemaless_reader(buffer, writer, reader)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=evolutions())
def test_the_registry_agrees_on_generated_evolutions(real_parts: Settings, pair: tuple[dict, dict]) -> None:
    old, new = pair
    registry = SchemaRegistryClient({"url": real_parts.registry_url})
    name = f"t-compat-{uuid.uuid4().hex[:12]}-value"
    registry.set_compatibility(name, "BACKWARD")
    registry.register_schema(name, Schema(json.dumps(old), "AVRO"))
    try:
        problems = backward_problems(old, new)
        assert registry.test_compatibility(name, Schema(json.dumps(new), "AVRO")) == (problems == []), problems
    finally:
        httpx.delete(f"{real_parts.registry_url}/subjects/{name}", timeout=10)
        httpx.delete(f"{real_parts.registry_url}/subjects/{name}?permanent=true", timeout=10)
