"""What the GPU engines share: a checkout with its own Python, run as a subprocess in a process
group of its own (killed with the whole group when the step is interrupted or times out), one
fresh working directory per call, and the weights' sha256 computed once per file version."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from localization_core.domain import Frozen
from localization_core.errors import ConfigurationError, FaceNotDetectedError, LipSyncError
from localization_core.providers.lipsync.base import LipSyncer

FACE_MARKERS = ("face not detected",)
TIMEOUT_S = 3600.0
_TAIL_LINES = 5


class EngineCheckout(Frozen):
    """Where an engine is installed on a GPU node (settings ``<ENGINE>_DIR``, ``_PYTHON``,
    ``_CHECKPOINTS``, ``_VERSION``)."""

    dir: Path
    python: Path
    checkpoints: Path
    version: str


class SubprocessLipSyncer(LipSyncer):
    """An engine run through its own inference script; subclasses build the command line."""

    weights: tuple[str, ...] = ()  # files under the checkpoint dir that decide the output
    timeout_s = TIMEOUT_S  # one window's call at most (a hung GPU is killed, then retried)

    def __init__(self, checkout: EngineCheckout) -> None:
        for path, what in ((checkout.dir, "checkout"), (checkout.checkpoints, "checkpoints")):
            if not path.is_dir():
                raise ConfigurationError(f"{self.name}: {what} directory {path} does not exist")
        if not checkout.python.is_file():
            raise ConfigurationError(f"{self.name}: python {checkout.python} does not exist")
        self.checkout = checkout
        self.version = checkout.version
        self._hash: str | None = None

    @property
    def checkpoint_hash(self) -> str:  # type: ignore[override]
        """sha256 over the weights that decide the output (cached by size and mtime)."""
        if self._hash is None:
            files = [self.checkout.checkpoints / name for name in self.weights]
            self._hash = hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()
        return self._hash

    def run(self, args: Sequence[str], workdir: Path) -> str:
        """Run ``python -m <args>`` with the checkout importable and ``workdir`` as the working
        directory; the engine's output (stdout and stderr) is returned, a failure raised as
        ``FaceNotDetectedError`` or ``LipSyncError`` with the last lines it printed."""
        env = {**os.environ, "PYTHONPATH": str(self.checkout.dir), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [str(self.checkout.python), "-m", *args],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: killed whole, never orphaned
        )
        try:
            output, _ = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise LipSyncError(f"{self.name} ran past {self.timeout_s:g} s") from exc
        finally:
            _kill_group(proc)
        if proc.returncode != 0:
            raise _failure(self.name, proc.returncode, output)
        return output

    def workdir(self, near: Path) -> Path:
        """A fresh working directory for one call (the engine writes relative paths there)."""
        return Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=near.parent))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the engine's whole process group if anything of it is still running."""
    if proc.poll() is None or _group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is left."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _failure(name: str, code: int, output: str) -> LipSyncError:
    """The error for a failed engine call: a face failure bisects, anything else fails."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-_TAIL_LINES:])[-600:]
    if any(marker in output.lower() for marker in FACE_MARKERS):
        last = next((ln for ln in reversed(lines) if "face not detected" in ln.lower()), "")
        return FaceNotDetectedError(last.strip() or "Face not detected")
    return LipSyncError(f"{name} exited with {code}: {tail}")


def file_sha256(path: Path) -> str:
    """The sha256 of a weights file, cached beside it by size and mtime (weights are large;
    hashing them once per version, not once per window)."""
    if not path.is_file():
        raise ConfigurationError(f"checkpoint {path} does not exist")
    facts = path.stat()
    stamp = f"{facts.st_size}:{facts.st_mtime_ns}"
    cache = path.with_name(f".{path.name}.sha256.json")
    try:
        known = json.loads(cache.read_text())
        if known.get("stamp") == stamp:
            return str(known["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    try:
        temp = cache.with_suffix(".tmp")
        temp.write_text(json.dumps({"stamp": stamp, "sha256": value}))
        temp.replace(cache)
    except OSError:
        pass  # a read-only checkpoint dir: hash again next process, still correct
    return value
