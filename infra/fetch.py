"""Fetching with Maven into the state directory: atomic (a folder appears complete or not at all) and cached by ``~/.m2``."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from common.errors import UnreachableError

MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def java() -> str:
    """The ``java`` on PATH (Java 17 runs Kafka and the SMSC simulator)."""
    found = shutil.which("java")
    if found is None:
        raise UnreachableError("Java is not on PATH: install a JDK 17+ (e.g. apt-get install openjdk-17-jre-headless)")
    return found


def copy_dependencies(pom_dir: Path, libs: Path) -> None:
    """Copy the runtime dependencies of ``pom_dir/pom.xml`` into ``libs``, replacing whatever was there."""
    libs.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
    try:
        _mvn([f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={scratch}"], pom_dir)
        if libs.exists():
            shutil.rmtree(libs)
        scratch.rename(libs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def unpack(artifact: str, target: Path, last: str) -> None:
    """Unpack a Maven artifact into ``target``, moving the file ``last`` in after everything else so its presence means "complete"."""
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        # Without a pom, Maven leaves a `${project.basedir}` folder in its working directory: run it inside the scratch folder.
        _mvn([f"{MAVEN_DEPENDENCY_PLUGIN}:unpack", f"-Dartifact={artifact}", f"-DoutputDirectory={scratch / 'out'}"], scratch)
        entries = sorted((scratch / "out").iterdir(), key=lambda entry: entry.name == last)
        for entry in entries:
            destination = target / entry.name
            if destination.is_dir():
                shutil.rmtree(destination)
            entry.replace(destination)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _mvn(args: list[str], cwd: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise UnreachableError("Maven (`mvn`) is not on PATH: install it (e.g. apt-get install maven) to fetch Kafka, the registry and the SMSC")
    result = subprocess.run([mvn, "-q", "-B", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in (result.stdout + result.stderr).splitlines() if "ERROR" in line] or ["no output"]
        raise UnreachableError(f"`mvn {args[0]}` failed in {cwd}: {lines[0].strip()}")
