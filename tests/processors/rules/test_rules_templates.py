"""Template files and the Liquid sandbox: loading, languages, every missing variable named, limits, refused templates."""
from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.sandbox import MissingVariables, RenderFailed, compile_text, render_tree
from processors.rules.templates import load, language_for, parse


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_templates_load() -> None:
    templates = load()
    assert {"otp", "order_shipped", "promo_spring"} <= set(templates)
    otp = templates["otp"].render({"code": "123456"}, None, "SMS")
    assert otp.sms_text == "Your code is 123456. It expires in 10 minutes."
    assert templates["otp"].render({"code": "1", "minutes": "5"}, "fr", "SMS").sms_text == "Votre code est 1. Il expire dans 5 minutes."


@pytest.mark.parametrize(("locale", "region", "language"), [
    ("fr-FR", "US", "fr"), ("sv_SE", "FR", "sv"), ("EN", "FR", "en"), (None, "FR", "fr"), (None, "SE", "sv"),
    (None, "US", None), ("  ", "SE", "sv"),
])
def test_language_for(locale: str | None, region: str, language: str | None) -> None:
    assert language_for(locale, region) == language


def test_unknown_language_uses_the_default_text() -> None:
    assert load()["otp"].render({"code": "7"}, "de", "SMS").sms_text.startswith("Your code is 7.")


def test_each_channel_renders_only_what_it_sends() -> None:
    shipped = load()["order_shipped"]
    variables = {"first_name": "Ava", "order_id": "A1"}
    sms = shipped.render(variables, None, "SMS")
    assert (sms.rcs, sms.media_urls) == (None, [])
    rcs = shipped.render(variables, None, "RCS").rcs
    assert rcs["title"] == "Order A1 shipped" and rcs["suggestions"][0]["url"] == "https://example.com/t/A1"
    assert shipped.render(variables, None, "MMS").media_urls == ["https://example.com/img/parcel.png"]


def test_every_missing_variable_is_named_once_in_order_of_use() -> None:
    template = compile_text("{{ b }} {{ a }} {{ b }} {% if vip %}!{% endif %}{% for x in items %}{{ x }}{% endfor %} {{ m | default: 3 }}")
    with pytest.raises(MissingVariables) as caught:
        render_tree({"text": template, "more": [compile_text("{{ c | upcase }}")]}, {"a": "given"})
    assert caught.value.names == ["b", "vip", "items", "c"]


def test_a_field_of_a_given_variable_is_named_by_its_path() -> None:
    with pytest.raises(MissingVariables) as caught:
        render_tree(compile_text("{{ order.id }}"), {"order": "A1"})
    assert caught.value.names == ["order.id"]


def test_defaults_and_presence_tests_need_no_variable() -> None:
    template = compile_text("{{ name | default: 'you' }}{% if vip == nil %}, welcome{% endif %}")
    assert render_tree(template, {}) == "you, welcome"


@pytest.mark.parametrize(("source", "variables", "message"), [
    ("{% for i in (1..5000) %}x{% endfor %}", {}, "loop iteration limit"),
    ("{{ big }}{{ big }}", {"big": "x" * 15_000}, "output stream limit"),
    ("{{ n | divided_by: 0 }}", {"n": "4"}, "divide by 0"),
])
def test_render_failures_are_values(source: str, variables: dict[str, str], message: str) -> None:
    with pytest.raises(RenderFailed, match=message):
        render_tree(compile_text(source), variables)


def test_renders_do_not_leak_missing_names_into_each_other() -> None:
    with pytest.raises(MissingVariables):
        render_tree(compile_text("{{ x }}"), {})
    assert render_tree(compile_text("{{ y | default: 1 }}"), {}) == "1"


@pytest.mark.parametrize(("text", "problem"), [
    ('id = "other"\n[sms]\ndefault = "hi"', "must be the file name"),
    ('id = "t"\n[sms]\nfr = "salut"', "needs a `default` text"),
    ('id = "t"\n[sms]\ndefault = "{{ x | shout }}"', "unknown Liquid filters: shout"),
    ('id = "t"\n[sms]\ndefault = "{% include \'other\' %}"', "tags not allowed"),
    ('id = "t"\n[sms]\ndefault = "{% if %}"', "Liquid syntax"),
    ('id = "t"\n[sms]\ndefault = "hi"\n[rcs]\ntext = "a"\ntitle = "b"', "text message"),
    ('id = "t"\n[sms]\ndefault = "hi"\n[rcs]\ntext = "a"\nsuggestions = [{ type = "call", text = "x" }]', "suggestion"),
    ('id = "t"\n[sms\ndefault = "hi"', "template"),
])
def test_bad_template_files_are_refused_at_load(tmp_path: Path, text: str, problem: str) -> None:
    write(tmp_path, "t", text)
    with pytest.raises(ValueError, match=problem):
        load(tmp_path)


def test_a_template_folder_from_settings(tmp_path: Path) -> None:
    write(tmp_path, "hello", 'id = "hello"\nversion = 3\n[sms]\ndefault = "Hello {{ name }}"\n[mms]\nmedia_urls = ["https://x/{{ name }}.png"]')
    template = parse(tmp_path / "hello.toml")
    assert (template.id, template.version) == ("hello", 3)
    assert template.render({"name": "Jo"}, None, "MMS").media_urls == ["https://x/Jo.png"]


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nowhere")


def test_load_names_every_problem_of_a_file(tmp_path: Path) -> None:
    write(tmp_path, "t", 'id = "t"\nversion = "two"\n[sms]\ndefault = "{{ x | shout }}"\n[rcs]\n[[rcs.carousel]]\ntitle = "one"')
    with pytest.raises(ValueError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert "version: must be a positive integer" in message
    assert "rcs.carousel: 1 card; a carousel has 2 to 10" in message
    assert "sms.default: unknown Liquid filters: shout" in message


def test_a_carousel_template_renders_every_card(tmp_path: Path) -> None:
    write(tmp_path, "c", 'id = "c"\n[sms]\ndefault = "hi"\n[rcs]\nsuggestions = [{ type = "reply", text = "More" }]\n'
          '[[rcs.carousel]]\ntitle = "{{ a }}"\n[[rcs.carousel]]\ndescription = "{{ b }}"\n'
          'suggestions = [{ type = "dial", text = "Call", phone_number = "{{ phone }}" }]')
    template = parse(tmp_path / "c.toml")
    assert template.smart_encoding is True
    rcs = template.render({"a": "A", "b": "B", "phone": "+33140000000"}, None, "RCS").rcs
    assert rcs == {"suggestions": [{"type": "reply", "text": "More"}], "carousel": [
        {"title": "A"}, {"description": "B", "suggestions": [{"type": "dial", "text": "Call", "phone_number": "+33140000000"}]}]}


def test_a_lenient_render_leaves_missing_variables_empty() -> None:
    template = load()["otp"]
    assert template.render({}, None, "SMS", strict=False).sms_text == "Your code is . It expires in 10 minutes."
