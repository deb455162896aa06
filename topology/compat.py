"""Avro BACKWARD compatibility with the path of every problem: can the new schema read what the old one wrote?

Registries answer only yes or no; this says which field and why. The rules are the Avro specification's
schema resolution, as Avro's own ``SchemaCompatibility`` applies them: named types match by unqualified name
(or a reader alias), fields by name (or a reader alias), a field only the reader has needs a default,
int→long→float→double and string↔bytes promote, every branch of a writer union must be readable, a writer
enum symbol must exist in the reader unless the reader enum has a default, fixed sizes must agree. Logical
types are annotations and do not take part. Paths read ``Receipt.context.campaign``; ``[]`` marks array items
and ``{}`` map values.
"""
from __future__ import annotations

from typing import Any

Schema = Any  # parsed schema JSON: a type name, a union list or a complex-type dict
PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


def backward_problems(old: Schema, new: Schema) -> list[str]:
    """Why ``new`` (the reader) cannot read data written with ``old`` (the writer), one line per problem; empty when it can."""
    checker = _Checker(_named_types(old), _named_types(new))
    reader = _resolve(new, checker.reader_names)
    checker.check(old, new, _short(reader["name"]) if isinstance(reader, dict) and "name" in reader else "value")
    return checker.problems


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _named_types(schema: Schema, namespace: str = "", found: dict[str, dict] | None = None) -> dict[str, dict]:
    """Every named type (record, enum, fixed) defined in ``schema``, by full name and by short name."""
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, namespace, found)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in NAMED:
            name = schema["name"]
            full = name if "." in name else ".".join(filter(None, (schema.get("namespace", namespace), name)))
            found[full] = schema
            found.setdefault(_short(full), schema)
            inner = full.rsplit(".", 1)[0] if "." in full else ""  # nested definitions inherit the enclosing namespace
            for field in schema.get("fields", []):
                _named_types(field["type"], inner, found)
        elif kind == "array":
            _named_types(schema["items"], namespace, found)
        elif kind == "map":
            _named_types(schema["values"], namespace, found)
        elif isinstance(kind, (dict, list)):
            _named_types(kind, namespace, found)
    return found


def _resolve(schema: Schema, names: dict[str, dict]) -> Schema:
    """The schema in one of three shapes: a primitive name, a union list, or a complex-type dict (references followed)."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        return names.get(schema) or names.get(_short(schema)) or schema
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind in PRIMITIVES:
            return kind  # logical types do not take part in schema resolution
        if isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind not in NAMED | {"array", "map"}):
            return _resolve(kind, names)
    return schema


def _kind(schema: Schema) -> str:
    """``union``, a primitive name, ``record`` (errors included), ``enum``, ``fixed``, ``array``, ``map`` or an unknown name."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    return "record" if schema["type"] == "error" else schema["type"]


def _identity(schema: Schema) -> str:
    """What a union branch is told apart by: its kind, or its name for named types."""
    kind = _kind(schema)
    return f"{kind} {_short(schema['name'])}" if kind in NAMED else kind


def _describe(schema: Schema, names: dict[str, dict]) -> str:
    """A short human name for a type: ``int``, ``MessageContext``, ``[null, string]``, ``array<long>``."""
    schema = _resolve(schema, names)
    kind = _kind(schema)
    if kind == "union":
        return f"[{', '.join(_describe(branch, names) for branch in schema)}]"
    if kind in NAMED:
        return _short(schema["name"])
    if kind == "array":
        return f"array<{_describe(schema['items'], names)}>"
    if kind == "map":
        return f"map<{_describe(schema['values'], names)}>"
    return kind


def _same_name(writer: dict, reader: dict) -> bool:
    aliases = {_short(alias) for alias in reader.get("aliases", [])}
    return _short(writer["name"]) == _short(reader["name"]) or _short(writer["name"]) in aliases


class _Checker:
    """Walks a writer and a reader schema side by side, collecting every problem under its path."""

    def __init__(self, writer_names: dict[str, dict], reader_names: dict[str, dict],
                 in_progress: set[tuple[int, int]] | None = None) -> None:
        self.writer_names = writer_names
        self.reader_names = reader_names
        self.problems: list[str] = []
        self._in_progress = set() if in_progress is None else in_progress

    def check(self, writer: Schema, reader: Schema, path: str) -> bool:
        """Record why ``reader`` cannot read ``writer`` under ``path``; True when it can."""
        w = _resolve(writer, self.writer_names)
        r = _resolve(reader, self.reader_names)
        if isinstance(w, list):
            return self._from_union(w, r, path)
        if isinstance(r, list):
            return self._into_union(w, r, path)
        kw, kr = _kind(w), _kind(r)
        if kw in PRIMITIVES or kr in PRIMITIVES:
            return kr in PROMOTIONS.get(kw, {kw}) or self._fail(path, f"type changed from {self._w(w)} to {self._r(r)}")
        if kw != kr or (kw in NAMED and not _same_name(w, r)):
            return self._fail(path, f"type changed from {self._w(w)} to {self._r(r)}")
        if kw == "record":
            return self._record(w, r, path)
        if kw == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                for symbol in missing:
                    self._fail(path, f"symbol {symbol} removed without an enum default")
                return False
            return True
        if kw == "fixed":
            return w["size"] == r["size"] or self._fail(path, f"fixed size changed from {w['size']} to {r['size']}")
        if kw == "array":
            return self.check(w["items"], r["items"], f"{path}[]")
        if kw == "map":
            return self.check(w["values"], r["values"], f"{path}{{}}")
        return self._fail(path, f"unknown type {self._w(w)}")

    def _fail(self, path: str, problem: str) -> bool:
        self.problems.append(f"{path}: {problem}")
        return False

    def _quietly(self, writer: Schema, reader: Schema) -> bool:
        """Whether ``reader`` can read ``writer``, recording nothing (to pick a union branch)."""
        return _Checker(self.writer_names, self.reader_names, set(self._in_progress)).check(writer, reader, "")

    def _w(self, schema: Schema) -> str:
        return _describe(schema, self.writer_names)

    def _r(self, schema: Schema) -> str:
        return _describe(schema, self.reader_names)

    def _from_union(self, writer: list, reader: Schema, path: str) -> bool:
        """Every branch the writer may have used must be readable."""
        unreadable = [branch for branch in writer if not self._quietly(branch, reader)]
        if not unreadable:
            return True
        if isinstance(reader, list):
            for branch in unreadable:
                twin = self._twin(branch, reader)
                if twin is None:
                    self._fail(path, f"union branch {self._w(branch)} removed")
                else:
                    self.check(branch, twin, path)
            return False
        for branch in unreadable:
            resolved = _resolve(branch, self.writer_names)
            if _identity(resolved) == _identity(reader):
                self.check(branch, reader, path)
            else:
                self._fail(path, f"type changed from {self._w(writer)} to {self._r(reader)} ({self._w(branch)} values cannot be read)")
        return False

    def _into_union(self, writer: Schema, reader: list, path: str) -> bool:
        """A writer value is read by the first reader branch that can read it; explain through the same-named branch if none can."""
        if any(self._quietly(writer, branch) for branch in reader):
            return True
        twin = self._twin(writer, reader)
        if twin is not None:
            return self.check(writer, twin, path)
        return self._fail(path, f"type changed from {self._w(writer)} to {self._r(reader)}")

    def _twin(self, writer_branch: Schema, reader_union: list) -> Schema | None:
        """The reader branch of the same kind (or the same name), whose differences explain why it cannot read."""
        identity = _identity(_resolve(writer_branch, self.writer_names))
        return next((b for b in reader_union if _identity(_resolve(b, self.reader_names)) == identity), None)

    def _record(self, writer: dict, reader: dict, path: str) -> bool:
        key = (id(writer), id(reader))
        if key in self._in_progress:  # a recursive type, already being compared further up
            return True
        self._in_progress.add(key)
        written = {field["name"]: field for field in writer.get("fields", [])}
        ok = True
        for field in reader.get("fields", []):
            source = next((written[n] for n in (field["name"], *field.get("aliases", [])) if n in written), None)
            field_path = f"{path}.{field['name']}"
            if source is None:
                if "default" not in field:
                    ok = self._fail(field_path, "added without a default")
            elif not self.check(source["type"], field["type"], field_path):
                ok = False
        self._in_progress.discard(key)
        return ok
