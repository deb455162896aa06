"""``courrier config example``, ``config check`` on the deployment tables and ``courrier providers list``."""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from processors.config_example import bundled, example
from processors.providers.deployment import load_deployment

TWILIO_ENV = {"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": "tok-never-shown"}


def courrier(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("COURRIER_", "TWILIO_"))}
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**clean, "COURRIER_STATE_DIR": str(tmp_path / "state"), **(env or {})})


def test_the_example_holds_the_bundled_reference_data_and_checks_clean(tmp_path: Path) -> None:
    parsed = tomllib.loads(example())
    assert {table: parsed[table] for table in ("senders", "keywords", "footers", "prices")} == bundled()
    path = tmp_path / "courrier.toml"
    assert courrier(tmp_path, "config", "example", "--out", str(path)).returncode == 0
    done = courrier(tmp_path, "config", "check", str(path), env=TWILIO_ENV)
    assert done.returncode == 0, done.stderr
    assert "smpp:smsc" in done.stdout and "twilio" in done.stdout and "countries=CA,US" in done.stdout
    assert "tok-never-shown" not in done.stdout and "auth_token=********" in done.stdout


def test_check_names_a_provider_whose_credential_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "courrier.toml"
    path.write_text(example(), encoding="utf-8")
    done = courrier(tmp_path, "config", "check", str(path), env={"TWILIO_ACCOUNT_SID": TWILIO_ENV["TWILIO_ACCOUNT_SID"]})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].endswith("the environment variable TWILIO_AUTH_TOKEN is not set (it should hold auth_token)")
    assert "Traceback" not in done.stderr


def test_providers_list_shows_each_provider_and_its_health(tmp_path: Path) -> None:
    path = tmp_path / "courrier.toml"
    path.write_text('[providers.nowhere]\nkind = "sim"\nurl = "http://127.0.0.1:9"\n', encoding="utf-8")
    done = courrier(tmp_path, "providers", "list", "--json", env={"COURRIER_CONFIG": str(path)})
    [row] = json.loads(done.stdout)["providers"]
    assert (row["name"], row["kind"], row["channels"]) == ("sim:nowhere", "sim", "MMS,RCS,SMS")
    assert row["state"].startswith("unreachable: ") and done.returncode == 1, "nothing listens on port 9"
    checked = courrier(tmp_path, "providers", "list", "--no-probe", env={"COURRIER_CONFIG": str(path)})
    assert checked.returncode == 0 and "sim:nowhere" in checked.stdout and " ok " in checked.stdout
    assert load_deployment(path).declared


def test_the_commented_rbm_and_vonage_sections_hold_once_uncommented(tmp_path: Path, monkeypatch) -> None:
    for variable in ("RBM_CLIENT_TOKEN", "VONAGE_API_KEY", "VONAGE_API_SECRET", "VONAGE_SIGNATURE_SECRET", *TWILIO_ENV):
        monkeypatch.setenv(variable, TWILIO_ENV.get(variable, "value"))
    lines = example().splitlines()
    setting = re.compile(r"# (\[providers\.\w+\]|\w+ = .+)$")
    uncommented = [line[2:] if setting.fullmatch(line) else line for line in lines]
    path = tmp_path / "courrier.toml"
    path.write_text("\n".join(uncommented), encoding="utf-8")
    deployment = load_deployment(path)
    assert {p.kind for p in deployment.providers} == {"smpp", "twilio", "rbm", "vonage"}
