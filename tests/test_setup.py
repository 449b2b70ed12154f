"""`make setup` is idempotent, installs exactly the locks; `make test` checks services first.

A second run changes nothing and is quick; a changed lock rebuilds its venv, an unchanged one does
not; the installed distributions are exactly the pinned ones.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

WATCHED = [
    ".venv/pyvenv.cfg",
    ".build/venv",
    ".build/npm",
    "node_modules/.bin/azurite-blob",
    ".venv/share/localization/models/base/model.bin",
    ".venv/share/localization/models/tiny.en/model.bin",
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


def _dry_run(*args: str) -> str:
    """What ``make -n`` would run for ``args`` (nothing is executed)."""
    return subprocess.run(
        ["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_an_unchanged_lock_reinstalls_nothing_even_when_rewritten() -> None:
    assert "pip install" not in _dry_run("venv", "checkov")
    rewritten = ("-W", "requirements.lock", "-W", "requirements-checkov.lock")
    assert "pip install" not in _dry_run(*rewritten, "venv", "checkov")


@pytest.mark.parametrize(
    ("variable", "lock", "venv", "other"),
    [
        ("LOCK", "requirements.lock", ".venv", ".venv-checkov"),
        ("CHECKOV_LOCK", "requirements-checkov.lock", ".venv-checkov", ".venv "),
    ],
)
def test_a_changed_lock_rebuilds_only_its_own_venv(
    tmp_path: Path, variable: str, lock: str, venv: str, other: str
) -> None:
    changed = tmp_path / lock
    changed.write_text((REPO / lock).read_text() + "# changed\n")
    dry = _dry_run(f"{variable}={changed}", "venv", "checkov")
    assert f"rm -rf {venv} " in dry and f"pip install -q -r {changed}" in dry
    assert f"rm -rf {other}" not in dry


def test_a_changed_pyproject_reinstalls_only_the_project() -> None:
    dry = _dry_run("-W", "pyproject.toml", "venv", "checkov")
    assert "pip install -q --no-deps --no-build-isolation -e ." in dry
    assert "-r requirements" not in dry


def _pins(lines: list[str]) -> dict[str, str]:
    """``name==version`` lines as {normalized name: version}."""
    pins = {}
    for line in lines:
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def _lock(path: str) -> dict[str, str]:
    return _pins((REPO / path).read_text().splitlines())


def _frozen(venv: str) -> dict[str, str]:
    out = subprocess.run(
        [str(REPO / venv / "bin" / "python"), "-m", "pip", "freeze", "--all", "--exclude-editable"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    # a build's local label (torch 2.13.0+cpu, taken from disk for the lock's 2.13.0) is that
    # release: PEP 440 ignores it when the pin has none, and `make lock` writes none
    return {name: version.split("+", 1)[0] for name, version in _pins(out.splitlines()).items()}


def _pip_version() -> str:
    match = re.search(r"^PIP_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match
    return match.group(1)


@pytest.mark.parametrize(
    ("venv", "locks"),
    [
        # `make test` adds the local LLM's lock (`make llm`) to the project's venv
        (".venv", ("requirements.lock", "requirements-llm.lock")),
        (".venv-checkov", ("requirements-checkov.lock",)),
    ],
)
def test_venv_holds_exactly_the_lock(venv: str, locks: tuple[str, ...]) -> None:
    pinned: dict[str, str] = {}
    for lock in locks:
        pins = _lock(lock)
        shared = pins.keys() & pinned.keys()
        assert {name: pins[name] for name in shared} == {n: pinned[n] for n in shared}, lock
        pinned.update(pins)
    assert len(pinned) > 50
    assert _frozen(venv) == {**pinned, "pip": _pip_version()}


def test_the_llm_is_installed_once_per_lock(tmp_path: Path) -> None:
    assert "pip install" not in _dry_run("llm")
    changed = tmp_path / "requirements-llm.lock"
    changed.write_text((REPO / "requirements-llm.lock").read_text() + "# changed\n")
    assert f"-r {changed}" in _dry_run(f"LLM_LOCK={changed}", "llm")
