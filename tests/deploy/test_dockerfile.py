"""The Dockerfile, checked without a Docker engine: its instructions parsed and held against the code."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from infra.k8s.manifests import HEALTH_COMMAND, USER_ID
from infra.k8s.workloads import METRICS_PORT

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    joined, found = "", []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        joined += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = joined.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
            joined = ""
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_runs_as_a_fixed_non_root_user() -> None:
    users = [args for word, args in final_stage() if word == "USER"]
    assert users, "the final stage sets no USER"
    user, _, group = users[-1].partition(":")
    assert user not in {"0", "root"} and group not in {"0", "root"}
    assert int(user) == USER_ID  # the id the Kubernetes pods run as


def test_entrypoint_is_the_console_script_and_the_command_picks_the_process() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    stage = dict(final_stage())
    entrypoint = json.loads(stage["ENTRYPOINT"])
    assert entrypoint == ["courrier"] and "courrier" in scripts
    assert json.loads(stage["CMD"]) == ["--help"]


def test_healthcheck_runs_the_health_script_on_the_metrics_port() -> None:
    stage = final_stage()
    assert json.loads(dict(stage)["HEALTHCHECK"].split(" CMD ", 1)[1]) == [HEALTH_COMMAND]
    assert ("COPY", f"--chmod=0755 infra/k8s/health.py /usr/local/bin/{HEALTH_COMMAND}") in stage
    assert f"COURRIER_METRICS_PORT={METRICS_PORT}" in dict(stage)["ENV"] and dict(stage)["EXPOSE"] == str(METRICS_PORT)


def copied_sources() -> set[str]:
    """What COPY takes from the build context (every argument but the destination; not COPY --from a stage)."""
    return {src for word, args in instructions() if word == "COPY" and not args.startswith("--from")
            for src in args.split()[:-1] if not src.startswith("--")}


def test_the_build_stage_copies_every_package_pyproject_installs() -> None:
    assert [word for word, _ in instructions()].count("FROM") == 2  # build wheels, then a slim final stage
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {name.rstrip("*") for name in include} | {"pyproject.toml", "README.md"} <= copied_sources()
    for path in copied_sources():
        assert (ROOT / path).exists(), path


def test_dockerignore_keeps_out_local_state_but_nothing_the_build_copies() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests"} <= ignored
    assert not copied_sources() & ignored
