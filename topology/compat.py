"""Avro BACKWARD compatibility, with the path of every problem: can the new schema read what the old one wrote?

The registry answers only yes or no; this says which field. Rules follow the Avro specification's
schema resolution: fields matched by name (or alias), added fields need a default, numeric
promotions int→long→float→double, string↔bytes, unions branch by branch, enum symbols kept or
covered by the reader's default.
"""
from __future__ import annotations

from typing import Any

Schema = Any
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


def _named_types(schema: Schema, namespace: str | None = None, found: dict[str, dict] | None = None) -> dict[str, dict]:
    """Every named type (record, enum, fixed) by full name and by short name."""
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, namespace, found)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed", "error"):
            space = schema.get("namespace", namespace)
            name = schema["name"]
            full = name if "." in name or not space else f"{space}.{name}"
            found[full] = schema
            found.setdefault(name.split(".")[-1], schema)
            namespace = full.rsplit(".", 1)[0] if "." in full else space
            for field in schema.get("fields", []):
                _named_types(field["type"], namespace, found)
        elif kind == "array":
            _named_types(schema["items"], namespace, found)
        elif kind == "map":
            _named_types(schema["values"], namespace, found)
        elif isinstance(kind, (dict, list)):
            _named_types(kind, namespace, found)
    return found


class _Checker:
    def __init__(self, writer: Schema, reader: Schema) -> None:
        self.writer_names = _named_types(writer)
        self.reader_names = _named_types(reader)
        self.problems: list[str] = []
        self._seen: set[tuple[int, int]] = set()

    def resolve(self, schema: Schema, names: dict[str, dict]) -> Schema:
        if isinstance(schema, str) and schema not in PRIMITIVES:
            return names.get(schema, names.get(schema.split(".")[-1], schema))
        if isinstance(schema, dict) and schema.get("type") in PRIMITIVES and "logicalType" not in schema:
            return schema["type"]
        if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            return self.resolve(schema["type"], names)
        return schema

    def kind(self, schema: Schema) -> str:
        if isinstance(schema, list):
            return "union"
        if isinstance(schema, str):
            return schema
        return schema["type"]

    def readable(self, writer: Schema, reader: Schema, path: str) -> bool:
        """Check that ``reader`` can read ``writer``; record problems under ``path``. True when it can."""
        writer = self.resolve(writer, self.writer_names)
        reader = self.resolve(reader, self.reader_names)
        w, r = self.kind(writer), self.kind(reader)
        if w == "union":
            return all([self.readable(branch, reader, path) for branch in writer])
        if r == "union":
            if any(self._quietly_readable(writer, branch) for branch in reader):
                return True
            self.problems.append(f"{path}: the new union has no branch that can read {self._describe(writer)}")
            return False
        if w in PRIMITIVES or r in PRIMITIVES:
            base_w = writer if isinstance(writer, str) else writer.get("type")
            base_r = reader if isinstance(reader, str) else reader.get("type")
            if base_r in PROMOTIONS.get(base_w, {base_w}):
                return True
            self.problems.append(f"{path}: type changed from {self._describe(writer)} to {self._describe(reader)}")
            return False
        if w != r:
            self.problems.append(f"{path}: type changed from {w} to {r}")
            return False
        if w == "record":
            return self._records(writer, reader, path)
        if w == "enum":
            removed = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if removed and "default" not in reader:
                self.problems.append(f"{path}: enum symbol(s) {', '.join(removed)} removed and the enum has no default")
                return False
            return True
        if w == "array":
            return self.readable(writer["items"], reader["items"], f"{path}[]")
        if w == "map":
            return self.readable(writer["values"], reader["values"], f"{path}{{}}")
        if w == "fixed":
            if writer["size"] != reader["size"]:
                self.problems.append(f"{path}: fixed size changed from {writer['size']} to {reader['size']}")
                return False
            return True
        return True

    def _records(self, writer: dict, reader: dict, path: str) -> bool:
        key = (id(writer), id(reader))
        if key in self._seen:  # recursive types: already being checked higher up
            return True
        self._seen.add(key)
        written = {f["name"]: f for f in writer.get("fields", [])}
        ok = True
        for field in reader.get("fields", []):
            names = [field["name"], *field.get("aliases", [])]
            source = next((written[n] for n in names if n in written), None)
            field_path = f"{path}.{field['name']}"
            if source is None:
                if "default" not in field:
                    self.problems.append(f"{field_path}: added without a default")
                    ok = False
            elif not self.readable(source["type"], field["type"], field_path):
                ok = False
        return ok

    def _quietly_readable(self, writer: Schema, reader: Schema) -> bool:
        saved, seen = list(self.problems), set(self._seen)
        result = self.readable(writer, reader, "")
        self.problems, self._seen = saved, seen
        return result

    def _describe(self, schema: Schema) -> str:
        if isinstance(schema, str):
            return schema
        if isinstance(schema, list):
            return "union"
        return schema.get("name") or schema.get("logicalType") or schema["type"]


def backward_problems(old: Schema, new: Schema) -> list[str]:
    """Why ``new`` (reader) cannot read data written with ``old`` (writer); empty when it can."""
    checker = _Checker(old, new)
    name = new.get("name", "value") if isinstance(new, dict) else "value"
    checker.readable(old, new, name.split(".")[-1])
    return checker.problems
