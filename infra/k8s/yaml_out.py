"""A small YAML writer for manifests (dicts, lists, strings, numbers, booleans): the image has no PyYAML.

Contract: ``yaml.safe_load(dump(x)) == x`` for any such ``x`` (tested). Strings that a YAML reader would take for
something else are double-quoted with escapes; multi-line strings as literal blocks when that keeps them exactly.
"""
from __future__ import annotations

import json
import re
from typing import Any

# Plain scalars that stay strings for every YAML 1.1 and 1.2 reader: no leading indicator, no ": " or " #", not a
# number, boolean or null look-alike (those are quoted below).
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@-]*$")
_AMBIGUOUS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def dump_all(documents: list[dict[str, Any]]) -> str:
    """Several manifests in one stream, each after a ``---`` line."""
    return "".join(f"---\n{dump(doc)}" for doc in documents)


def dump(value: Any) -> str:
    """One document; ends with a newline."""
    return "\n".join(_lines(value, 0)) + "\n"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _AMBIGUOUS:
            return value
        return _quoted(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _quoted(text: str) -> str:
    """A YAML double-quoted string in ASCII: YAML's \\U escapes for characters beyond the BMP, where JSON's
    surrogate pairs would be read back as two characters."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _is_block(value: Any) -> bool:
    """Whether a literal block keeps ``value`` exactly; other multi-line strings are double-quoted on one line."""
    if not isinstance(value, str) or "\n" not in value or value.startswith((" ", "\n")) or value.endswith("\n\n"):
        return False
    # A blank line made of spaces, or a character YAML reads as a break (NEL, LS, PS), would not come back as written.
    return all((line.strip() or not line) and line.isprintable() for line in value.split("\n"))


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out: list[str] = []
        for key, item in value.items():
            out.extend(_entry(pad + _scalar(str(key)) + ":", item, indent))
        return out
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            if isinstance(item, dict) and item:
                # The first key shares the dash's line, the others line up under it.
                inner = _lines(item, indent + 2)
                out.append(pad + "- " + inner[0][indent + 2:])
                out.extend(inner[1:])
            else:
                out.extend(_entry(pad + "-", item, indent))
        return out
    return [pad + _scalar(value)]


def _entry(head: str, item: Any, indent: int) -> list[str]:
    """``head`` (a ``key:`` or a ``-``) followed by ``item``, inline when it is a scalar."""
    if _is_block(item):
        # "|-" keeps the text exactly, its last newline included only when it has one ("|" then).
        chomp = "" if item.endswith("\n") else "-"
        body = item[:-1] if item.endswith("\n") else item
        return [f"{head} |{chomp}"] + [(" " * (indent + 2) + line) if line else "" for line in body.split("\n")]
    if isinstance(item, (dict, list)) and item:
        return [head] + _lines(item, indent + 2)
    return [f"{head} {_lines(item, 0)[0]}"]
