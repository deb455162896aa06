"""The template store on the real broker: `courrier templates seed|push|list|show|diff|publish`, a process's catalog
(seeded when the store lacks the bundled ids, following pushes live), and /v1/templates on the intake with its scopes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common.config import Settings
from processors.rules.templates import DEFAULT_DIR
from processors.templates_store.catalog import TemplateCatalog
from processors.rules.template_versions import Refused

HELLO = 'id = "hello"\n[sms]\ndefault = "Hello {{ name }}"\n[sample]\nname = "Jo"\n'
BUNDLED = sorted(path.stem for path in DEFAULT_DIR.glob("*.toml"))


def courrier(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers, "SCHEMA_REGISTRY_URL": settings.registry_url,
           "COURRIER_TOPIC_PREFIX": settings.topic_prefix}
    return subprocess.run([sys.executable, "-m", "courrier.entry", "templates", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_cli_keeps_versions_and_history(topic_settings: Settings, tmp_path: Path) -> None:
    assert ok(courrier(topic_settings, "seed")).startswith(f"seeded {len(BUNDLED)} templates")
    assert ok(courrier(topic_settings, "seed")).startswith("seeded 0 templates")  # never twice
    source = tmp_path / "hello.toml"
    source.write_text(HELLO)
    assert ok(courrier(topic_settings, "push", str(source), "--note", "first", "--author", "ana")) == "stored hello@1 (draft)\n"
    source.write_text(HELLO.replace("Hello", "Hi"))
    assert ok(courrier(topic_settings, "push", str(source), "--author", "ana")) == "stored hello@2 (draft)\n"
    assert ok(courrier(topic_settings, "publish", "hello", "2", "--author", "bo")) == "published hello@2\n"
    rows = {row["template_id"]: row for row in map(json.loads, ok(courrier(topic_settings, "list", "--json")).splitlines())}
    assert sorted(rows) == sorted([*BUNDLED, "hello"])
    assert (rows["hello"]["latest"], rows["hello"]["published"], rows["otp"]["changed_by"]) == (2, 2, "seed")
    history = ok(courrier(topic_settings, "show", "hello")).splitlines()
    assert history[0].startswith("v1  draft") and history[0].endswith("— first")
    assert history[1].startswith("v2  published  by ana") and "published by bo" in history[1]
    assert ok(courrier(topic_settings, "show", "hello", "--version", "1")) == HELLO
    assert '-default = "Hello {{ name }}"\n+default = "Hi {{ name }}"' in ok(courrier(topic_settings, "diff", "hello", "1", "2"))

    source.write_text(HELLO.replace('"Hello {{ name }}"', '"x"\n[rcs]\ntext = "Hi"\nsuggestions = [{ type = "reply", text = "' + "y" * 26 + '" }]'))
    refused = courrier(topic_settings, "push", str(source))
    assert refused.returncode == 1 and "hello.toml: rcs.suggestions[0].text: 26 characters; the limit is 25" in refused.stderr
    missing = courrier(topic_settings, "publish", "hello", "9")
    assert missing.returncode == 1 and missing.stderr.strip() == "error: template 'hello' has no version 9 (it has 1, 2)"


def test_a_catalog_seeds_what_the_store_lacks_and_follows_pushes(topic_settings: Settings, tmp_path: Path) -> None:
    catalog = TemplateCatalog(topic_settings, seed_dir=DEFAULT_DIR)
    catalog.start()
    try:
        assert sorted(catalog) == BUNDLED and catalog["otp"].version == 1
        (tmp_path / "otp.toml").write_text((DEFAULT_DIR / "otp.toml").read_text().replace("Your code is", "Code:"))
        ok(courrier(topic_settings, "push", str(tmp_path / "otp.toml")))
        deadline = time.monotonic() + 30
        while 2 not in catalog.versions("otp") and time.monotonic() < deadline:
            time.sleep(0.05)
        draft = catalog.resolve("otp", 2)
        assert isinstance(draft, Refused) and draft.reason == "template_version_draft"
        assert catalog["otp"].version == 1  # a draft is never what a request without a version gets
    finally:
        catalog.stop()
    again = TemplateCatalog(topic_settings, seed_dir=DEFAULT_DIR)  # a restart seeds nothing and reads both versions back
    again.start()
    try:
        assert sorted(again.versions("otp")) == [1, 2] and again["otp"].version == 1
    finally:
        again.stop()


def test_a_missing_templates_topic_is_named_before_anything_is_written(real_parts: Settings) -> None:
    import pytest

    from processors.access.store import AccessError

    settings = real_parts.model_copy(update={"topic_prefix": "t-nothing-here-"})
    with pytest.raises(AccessError, match="topic t-nothing-here-templates does not exist; run `courrier topology apply`"):
        TemplateCatalog(settings, seed_dir=DEFAULT_DIR).start()
