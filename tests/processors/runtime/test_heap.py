"""Capping glibc's malloc arenas in a stage process, unless the deployment's environment already does."""
from __future__ import annotations

import subprocess
import sys

import pytest

from processors.runtime import heap


def test_the_environment_s_own_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert heap.limit_arenas() is False


def test_arenas_are_capped_on_glibc_in_a_process_of_its_own() -> None:
    # Its own process: the cap is for the rest of a process's life, not for the test session's.
    script = ("import os, platform; os.environ.pop('MALLOC_ARENA_MAX', None)\n"
              "from processors.runtime.heap import limit_arenas\n"
              "print(limit_arenas(), platform.libc_ver()[0])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    capped, libc = done.stdout.split()
    assert capped == ("True" if libc == "glibc" else "False")


def test_without_glibc_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    def missing(_name: str) -> None:
        raise OSError("libc.so.6: cannot open shared object file")

    monkeypatch.setattr(heap.ctypes, "CDLL", missing)
    assert heap.limit_arenas() is False
