"""`courrier templates validate`: every error of every file with its path, the shipped templates clean, the exit code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from processors.templates_store.cli import app
from processors.rules.rcs import RcsLimits
from processors.rules.templates import DEFAULT_DIR
from processors.render.validate import validate_source

BAD = '''
id = "bad"
version = 0
colour = "red"
[sms]
default = "{{ text }}"
fr-FR = "{% if %}"
[rcs]
suggestions = [{ type = "reply", text = "This reply is far too long to fit" }, { type = "open_url", text = "Go" }]
[[rcs.carousel]]
title = "{{ title }}"
description = "{{ x | shout }}"
[sample]
text = "ok"
'''


def problems(source: str, name: str = "t", **limits: int) -> list[str]:
    return [str(issue) for issue in validate_source(name, source, RcsLimits(**limits))]


@pytest.mark.parametrize("path", sorted(DEFAULT_DIR.glob("*.toml")), ids=lambda path: path.name)
def test_every_shipped_template_validates_clean(path: Path) -> None:
    assert validate_source(path.stem, path.read_text(encoding="utf-8")) == []


def test_shipped_templates_give_samples() -> None:
    assert all("[sample]" in path.read_text(encoding="utf-8") for path in DEFAULT_DIR.glob("*.toml"))


def test_every_error_of_a_file_is_reported_once_with_its_path() -> None:
    assert problems(BAD, "bad") == [
        "colour: unknown key: a template takes id, mms, purpose, rcs, sample, smart_encoding, sms, version",
        "version: must be a positive integer, not 0",
        "sms.fr-FR: a language key is `default` or a language code such as fr (no region)",
        "rcs.carousel: 1 card; a carousel has 2 to 10",
        "rcs.suggestions[1].url: missing: an RCS suggestion of type open_url needs text, url",
        "sms.fr-FR: Liquid syntax: missing expression",
        "rcs.carousel[0].description: unknown Liquid filters: shout",
        "sample: lacks variables rcs uses: title",
        "rcs.suggestions[0].text: 33 characters; the limit is 25",
    ]


def test_rendered_values_are_checked_with_the_sample() -> None:
    source = '''id = "t"
[sms]
default = "{{ text }}"
[rcs]
title = "{{ name }} {{ name }}"
media_url = "{{ image }}"
[mms]
media_urls = ["{{ image }}"]
[sample]
text = "{{ a }}"
name = "{name}"
image = "ftp://example.com/x.png"
'''
    assert problems(source.replace('"{{ a }}"', '"' + "a" * 1531 + '"').replace('"{name}"', '"' + "n" * 100 + '"')) == [
        "sms.default: renders to 11 SMS segments (GSM7) with the sample; the limit is 10",
        "rcs.title: 201 characters; the limit is 200",
        "rcs.media_url: must be an http(s) URL, not 'ftp://example.com/x.png'",
        "mms.media_urls[0]: must be an http(s) URL, not 'ftp://example.com/x.png'",
    ]


def test_smart_encoding_counts_as_sent() -> None:
    text = ("a" * 150 + "’" * 3) * 10  # 1,530 septets once smart-encoded (10 segments); 23 UCS-2 segments as written
    assert problems(f'id = "t"\n[sms]\ndefault = "{text}"') == []
    assert problems(f'id = "t"\nsmart_encoding = false\n[sms]\ndefault = "{text}"') == [
        "sms.default: renders to 23 SMS segments (UCS2) with every variable empty; the limit is 10"]


def test_without_a_sample_only_what_is_too_long_anyway_is_reported() -> None:
    source = 'id = "t"\n[sms]\ndefault = "{{ a }}' + "x" * 1531 + '"\n[rcs]\ntext = "{{ a }}"\nsuggestions = [{ type = "reply", text = "{{ b }}" }]'
    assert problems(source) == ["sms.default: renders to 11 SMS segments (GSM7) with every variable empty; the limit is 10"]
    assert problems('id = "t"\n[sms]\ndefault = "x"\n[rcs]\ntext = "' + "y" * 100 + '{{ a }}"', text=50) == [
        "rcs.text: 100 characters; the limit is 50"]


@pytest.mark.parametrize(("source", "fragment"), [
    ('id = "t"\n[sms\n', "TOML:"),
    ('id = "t"\n[sms]\ndefault = 5', "sms.default"),
    ('id = "t"\nsmart_encoding = "yes"\n[sms]\ndefault = "a"', "smart_encoding: must be true or false"),
    ('id = "t"\n[sms]\ndefault = "a"\n[sample]\nn = 5', "sample: must be a table of string variables"),
    ('id = "t"\n[sms]\ndefault = "a"\n[mms]\nmedia = ["x"]', "mms.media: unknown key"),
    ('id = "t"\n[sms]\ndefault = "{% for i in (1..5000) %}x{% endfor %}"\n[sample]', "loop iteration limit"),
])
def test_malformed_files_are_issues_not_crashes(source: str, fragment: str) -> None:
    found = problems(source)
    assert any(fragment in problem for problem in found), found


runner = CliRunner()


def write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.toml").write_text(text, encoding="utf-8")


def test_cli_prints_one_line_per_error_and_exits_1(tmp_path: Path) -> None:
    write(tmp_path, "bad", BAD)
    write(tmp_path, "good", 'id = "good"\n[sms]\ndefault = "hi"')
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "bad.toml: colour: unknown key: a template takes id, mms, purpose, rcs, sample, smart_encoding, sms, version"
    assert len(lines) == 9 and all(line.startswith("bad.toml: ") for line in lines)
    assert "2 templates, 9 errors" in result.stderr


def test_cli_json_and_a_clean_folder(tmp_path: Path) -> None:
    write(tmp_path, "bad", 'id = "other"\n[sms]\ndefault = "hi"')
    result = runner.invoke(app, ["validate", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"templates": 1, "errors": [
        {"file": "bad.toml", "path": "id", "message": "'other' must be the file name 'bad'"}]}
    clean = runner.invoke(app, ["validate", str(DEFAULT_DIR), "--json"])
    assert clean.exit_code == 0 and json.loads(clean.stdout)["errors"] == []


def test_cli_rcs_text_limit_option(tmp_path: Path) -> None:
    write(tmp_path, "t", 'id = "t"\n[sms]\ndefault = "hi"\n[rcs]\ntext = "' + "x" * 300 + '"')
    assert runner.invoke(app, ["validate", str(tmp_path)]).exit_code == 0
    short = runner.invoke(app, ["validate", str(tmp_path), "--rcs-text-max", "160"])
    assert (short.exit_code, short.stdout.strip()) == (1, "t.toml: rcs.text: 300 characters; the limit is 160")


def test_cli_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert runner.invoke(app, ["validate", str(tmp_path / "nowhere")]).exit_code == 2
