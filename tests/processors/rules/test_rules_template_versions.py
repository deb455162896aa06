"""The template store's rules without a broker: keys, versions, what a request gets, pushes, publishes and diffs."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest

from processors.rules.templates import DEFAULT_DIR
from processors.runtime.stage import Output
from processors.templates_store.catalog import seed_records
from processors.templates_store.changes import publish, push
from processors.rules.template_versions import MarketingIds, Refused, TemplateIndex, parse_key, resolve, source_diff, version_key

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
HELLO = 'id = "hello"\n[sms]\ndefault = "Hello {{ name }}"\n[sample]\nname = "Jo"\n'
HELLO_2 = 'id = "hello"\n[sms]\ndefault = "Hi {{ name }}!"\n[sample]\nname = "Jo"\n'


def stored(index: TemplateIndex, outcome: Output | list | Refused) -> Output:
    assert isinstance(outcome, Output), outcome
    index.take(outcome.key, outcome.value)
    return outcome


def test_keys_name_id_and_version() -> None:
    assert version_key("otp", 3) == "otp@3"
    assert parse_key("otp@3") == ("otp", 3)
    assert parse_key("otp") is None and parse_key("otp@0") is None and parse_key("<b>@1") is None


def test_a_push_is_a_draft_numbered_by_the_store_and_never_sent() -> None:
    index = TemplateIndex()
    first = stored(index, push(index, HELLO, "ana", NOW, "first words"))
    assert (first.key, first.value["status"], first.value["note"], first.value["created_by"]) == ("hello@1", "DRAFT", "first words", "ana")
    assert "hello" not in index  # no published version: nothing to send by default
    refused = index.resolve("hello", None)
    assert isinstance(refused, Refused) and refused.reason == "unknown_template" and "drafts" in refused.detail
    named = index.resolve("hello", 1)
    assert isinstance(named, Refused) and named.reason == "template_version_draft"
    assert "courrier templates publish hello 1" in named.detail


def test_the_latest_published_version_is_sent_unless_the_request_names_one() -> None:
    index = TemplateIndex()
    stored(index, push(index, HELLO, "ana", NOW))
    stored(index, publish(index, "hello", 1, "bo", NOW))
    stored(index, push(index, HELLO_2, "ana", NOW, "friendlier"))
    assert index["hello"].version == 1  # v2 is a draft
    stored(index, publish(index, "hello", 2, "bo", NOW))
    latest = index.resolve("hello", None)
    assert not isinstance(latest, Refused) and latest.version == 2
    assert latest.render({"name": "Jo"}, None, "SMS").sms_text == "Hi Jo!"
    pinned = index.resolve("hello", 1)
    assert not isinstance(pinned, Refused) and pinned.render({"name": "Jo"}, None, "SMS").sms_text == "Hello Jo"
    missing = index.resolve("hello", 9)
    assert isinstance(missing, Refused) and missing.reason == "unknown_template_version" and "1, 2" in missing.detail
    history = index.versions("hello")
    assert [(v, row["status"], row["published_by"]) for v, row in history.items()] == [(1, "PUBLISHED", "bo"), (2, "PUBLISHED", "bo")]


def test_an_invalid_template_is_refused_with_the_field_and_the_rule_and_nothing_is_written() -> None:
    index = TemplateIndex()
    label = "x" * 30
    source = f'id = "hello"\n[sms]\ndefault = "Hi"\n[rcs]\ntext = "Hi"\nsuggestions = [{{ type = "reply", text = "{label}" }}]\n'
    issues = push(index, source, "ana", NOW)
    assert isinstance(issues, list) and issues
    assert any(issue.path == "rcs.suggestions[0].text" and "25" in issue.message for issue in issues), issues
    assert index.ids() == []


@pytest.mark.parametrize(("source", "path"), [('id = "a b"\n', "id"), ("id = ", ""), ('id = "x"\n', "sms.default")])
def test_pushes_without_a_usable_id_or_text_are_refused(source: str, path: str) -> None:
    issues = push(TemplateIndex(), source, "ana", NOW)
    assert isinstance(issues, list) and issues[0].path == path


def test_the_same_text_twice_is_refused_and_publishing_an_unknown_version_says_what_exists() -> None:
    index = TemplateIndex()
    stored(index, push(index, HELLO, "ana", NOW))
    again = push(index, HELLO, "ana", NOW)
    assert isinstance(again, list) and "already has this exact text" in again[0].message
    assert publish(index, "hello", 4, "bo", NOW) == Refused("unknown_template_version", "template 'hello' has no version 4 (it has 1)")
    assert publish(index, "nope", 1, "bo", NOW).reason == "unknown_template"  # type: ignore[union-attr]


def test_a_diff_labels_both_versions() -> None:
    a = {"version": 1, "source": HELLO}
    b = {"version": 2, "source": HELLO_2}
    text = source_diff("hello", a, b)
    assert text.startswith("--- hello@1\n+++ hello@2\n")
    assert '-default = "Hello {{ name }}"\n' in text and '+default = "Hi {{ name }}!"\n' in text
    assert source_diff("hello", a, a) == ""


def test_the_bundled_templates_seed_version_1_published_and_only_ids_the_store_lacks() -> None:
    index = TemplateIndex()
    stored(index, push(index, HELLO, "ana", NOW))
    stored(index, push(index, 'id = "otp"\n[sms]\ndefault = "Code {{ code }}"\n[sample]\ncode = "1"\n', "ana", NOW))
    seeds = seed_records(DEFAULT_DIR, index, NOW)
    assert sorted(o.key for o in seeds) == sorted(f"{p.stem}@1" for p in DEFAULT_DIR.glob("*.toml") if p.stem != "otp")
    for seed in seeds:
        assert seed.value["status"] == "PUBLISHED" and seed.value["created_by"] == "seed"
        index.take(seed.key, seed.value)
    assert index["promo_spring"].version == 1 and "otp" not in index  # otp stays as pushed: a draft


def test_a_plain_mapping_of_files_resolves_its_one_version() -> None:
    from processors.rules.templates import load

    files = load()
    assert resolve(files, "otp", None) is files["otp"]
    assert resolve(files, "otp", files["otp"].version) is files["otp"]
    assert resolve(files, "otp", 7).reason == "unknown_template_version"  # type: ignore[union-attr]
    assert resolve(files, "nope", None).reason == "unknown_template"  # type: ignore[union-attr]


def test_a_stored_version_that_no_longer_compiles_stays_in_the_history_but_is_never_sent() -> None:
    index = TemplateIndex()
    stored(index, push(index, HELLO, "ana", NOW, publish=True))
    broken = {**index.versions("hello")[1], "version": 2, "source": 'id = "hello"\n[sms]\ndefault = "{% if %}"\n'}
    index.take("hello@2", broken)
    assert sorted(index.versions("hello")) == [1, 2] and index["hello"].version == 1
    assert index.resolve("hello", 2) == Refused("render_failed", "template 'hello' version 2 no longer compiles")
    index.take("not a key", broken)  # ignored, logged
    assert index.ids() == ["hello"]


MARKETING_HELLO = 'id = "hello"\npurpose = "marketing"\n[sms]\ndefault = "Sale {{ name }}"\n[sample]\nname = "Jo"\n'


def test_an_index_of_purposes_only_follows_the_latest_published_version_and_resolves_nothing() -> None:
    index = TemplateIndex(compile=False)
    stored(index, push(index, HELLO, "ana", NOW))
    assert index.purpose("hello") is None  # a draft declares nothing yet
    stored(index, publish(index, "hello", 1, "bo", NOW))
    assert index.purpose("hello") == ""
    stored(index, push(index, MARKETING_HELLO, "ana", NOW))
    assert index.purpose("hello") == ""  # v2 is a draft
    stored(index, publish(index, "hello", 2, "bo", NOW))
    assert index.purpose("hello") == "marketing" and "hello" in MarketingIds(index)
    assert list(index.versions("hello")) == [1, 2] and len(index) == 0  # nothing compiled, nothing to send
    with pytest.raises(TypeError, match="purposes only"):
        index.resolve("hello", None)


def test_consent_s_parts_load_neither_the_template_engine_nor_boto3() -> None:
    probe = ("import sys; from common.config import Settings; from processors.catalog import _consent; "
             "make, _ = _consent(Settings()); make(); print('liquid' in sys.modules, 'boto3' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split() == ["False", "False"]
