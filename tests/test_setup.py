"""`make setup` is idempotent: a second run changes nothing and is quick."""

from __future__ import annotations

import subprocess
import time

from tests.conftest import REPO

WATCHED = [
    ".venv/pyvenv.cfg",
    ".build/venv",
    ".build/npm",
    "node_modules/.bin/azurite-blob",
    "data/models/base/model.bin",
    "data/models/tiny.en/model.bin",
]


def _mtimes() -> dict[str, int]:
    return {name: (REPO / name).stat().st_mtime_ns for name in WATCHED}


def test_second_setup_changes_nothing_and_is_quick() -> None:
    before = _mtimes()
    started = time.monotonic()
    proc = subprocess.run(
        ["make", "setup"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert elapsed < 30, elapsed
    assert _mtimes() == before
    assert "pip install" not in proc.stdout and "installing" not in proc.stdout
    assert "up to date" in proc.stdout
