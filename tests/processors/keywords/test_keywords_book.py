"""The keyword file: the shipped one loads; a broken one is refused at load, naming each problem."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from processors.keywords.book import DEFAULT_PATH, BookInvalid, load

MINIMAL: dict[str, Any] = {
    "keywords": {"default": {"opt_out": ["STOP"], "opt_in": ["START"], "help": ["HELP"]}},
    "senders": {"default": {"brand": "B", "help": "h", "groups": ["g"]}},
    "groups": {"g": {"opt_out": ["STOPG"]}},
}


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "keywords.json"
    path.write_text(json.dumps(content) if not isinstance(content, str) else content, encoding="utf-8")
    return path


def test_the_shipped_file_loads_with_every_group_a_sender_lists(tmp_path: Path) -> None:
    book = load(DEFAULT_PATH)
    assert {"stop", "stopall", "arret", "stopp", "baja", "avsluta"} <= set(book.languages["default"]) | set(book.languages["fr"]) \
        | set(book.languages["sv"]) | set(book.languages["es"])
    assert all(group in book.group_words for sender in book.senders.values() for group in sender.groups)
    assert load(write(tmp_path, MINIMAL)).sender("anything").groups == ("g",)


@pytest.mark.parametrize(("change", "problem"), [
    ({"keywords": {"default": {"opt_out": ["STOP"], "opt_in": ["Stop!"]}}}, "'stop' is both opt_in and opt_out"),
    ({"keywords": {"default": {"opt_out": ["STOP"]}, "xx": {"help": ["stop"]}}}, "'stop' is both help and opt_out"),
    ({"keywords": {"default": {"unsubscribe": ["X"]}}}, "keywords.default.unsubscribe: unknown kind"),
    ({"keywords": {"default": {"opt_out": ["..."]}}}, "'...' has no letters or digits"),
    ({"keywords": {"fr": {"opt_out": ["ARRET"]}}}, "keywords needs a 'default' table"),
    ({"senders": {"x": {"brand": "B", "help": "h", "groups": []}}}, "senders needs a 'default' entry"),
    ({"senders": {"default": {"brand": "B", "help": "h", "groups": ["nope"]}}}, "'nope' is not declared in groups"),
    ({"senders": {"default": {"brand": "", "help": "h", "groups": []}}}, "senders.default.brand must be a non-empty string"),
    ({"senders": {"default": {"brand": "B", "help": "h", "groups": [], "keywords": {"opt_in": ["STOP"]}}}},
     "'STOP' is already a standard or group keyword"),
    ({"groups": {"g": {"opt_out": ["HELP"]}}}, "groups.g.opt_out: 'HELP' is already a standard"),
    ({"groups": {"g": {"opt_out": ["STOPG"]}, "h": {"opt_out": ["stop-g"]}}}, "'stop-g' is already a custom keyword elsewhere"),
    ({"fuzzy_opt_out": {"en": ["(unclosed"]}}, "fuzzy_opt_out.en: '(unclosed' does not compile"),
    ({"fuzzy_opt_out": {"en": "stop texting"}}, "fuzzy_opt_out.en must be a list of non-empty strings"),
    ({"reply_validity_seconds": 0}, "reply_validity_seconds must be a positive integer"),
])
def test_bad_files_are_refused_naming_the_problem(tmp_path: Path, change: dict[str, Any], problem: str) -> None:
    with pytest.raises(BookInvalid, match="keywords .*" + re.escape(problem)):
        load(write(tmp_path, {**MINIMAL, **change}))


def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    content = {**MINIMAL, "reply_validity_seconds": -1, "fuzzy_opt_out": {"en": ["("]}}
    with pytest.raises(BookInvalid) as caught:
        load(write(tmp_path, content))
    assert "reply_validity_seconds" in str(caught.value) and "does not compile" in str(caught.value)


@pytest.mark.parametrize(("content", "problem"), [("{not json", "Expecting property name"), ("[]", "one JSON object")])
def test_unreadable_files_are_refused(tmp_path: Path, content: str, problem: str) -> None:
    with pytest.raises(BookInvalid, match=problem):
        load(write(tmp_path, content))
