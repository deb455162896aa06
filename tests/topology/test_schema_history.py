"""Contracts (invariant 6): every schema in schemas/ still reads what every earlier committed version of it wrote."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
from fastavro.schema import load_schema

import schemas
from topology.compat import backward_problems

REPO = Path(schemas.__file__).resolve().parent.parent


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout


def in_git() -> bool:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--git-dir"], capture_output=True).returncode == 0


def historic_versions(name: str) -> list[dict]:
    """The schema ``name`` as every commit that touched schemas/ left it (shared types resolved at that commit)."""
    versions = []
    for commit in git("log", "--format=%H", "--", "schemas/").split():
        files = git("ls-tree", "--name-only", commit, "schemas/").split()
        if f"schemas/courrier.{name}.avsc" not in files:
            continue
        with tempfile.TemporaryDirectory() as folder:
            for path in (f for f in files if f.endswith(".avsc")):
                (Path(folder) / Path(path).name).write_text(git("show", f"{commit}:{path}"))
            versions.append(load_schema(str(Path(folder) / f"courrier.{name}.avsc"), _write_hint=False))
    return versions


@pytest.mark.skipif(not in_git(), reason="a source tarball has no history to compare with")
@pytest.mark.parametrize("name", schemas.topic_value_schemas())
def test_each_schema_reads_every_committed_version(name: str) -> None:
    current = json.loads(schemas.schema_json(name))
    problems = [p for old in historic_versions(name) for p in backward_problems(old, current)]
    assert problems == []
