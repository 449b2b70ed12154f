"""What a user checks on a delivered localization: streams, duration, what the dub says."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from localization_core.providers.transcription.base import Transcriber
from localization_core.providers.transcription.registry import create_transcriber
from localization_core.settings import Settings
from tests.conftest import MODELS, ffmpeg


def words(text: str) -> set[str]:
    """Lower-case words of ``text``."""
    return set(re.findall(r"[a-z']+", text.lower()))


@dataclass(frozen=True)
class Delivery:
    """The files of one localization, as a user finds them."""

    video: Path

    @property
    def srt(self) -> Path:
        return self.video.with_suffix(".srt")

    @property
    def vtt(self) -> Path:
        return self.video.with_suffix(".vtt")

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.video.parent / "report.json").read_text())
        return data

    def streams(self) -> list[dict[str, Any]]:
        proc = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
             str(self.video)],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        found: list[dict[str, Any]] = json.loads(proc.stdout)["streams"]
        return found

    def duration(self) -> float:
        return duration_of(self.video)

    def decode_errors(self) -> str:
        proc = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(self.video), "-f", "null", "-"],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        return proc.stdout + proc.stderr

    def audio(self, track: int, dst: Path) -> Path:
        """One audio track as 16 kHz mono WAV."""
        ffmpeg("-i", str(self.video), "-map", f"0:a:{track}", "-ac", "1", "-ar", "16000", str(dst))
        return dst

    def subtitle_text(self) -> str:
        blocks = self.srt.read_text().strip().split("\n\n")
        return " ".join(" ".join(block.splitlines()[2:]) for block in blocks)


def duration_of(path: Path, stream: str = "format") -> float:
    """Duration of a file (``format``) or of its first video stream (``v``)."""
    entries = "format=duration" if stream == "format" else "stream=duration"
    proc = subprocess.run(
        ["ffprobe", "-v", "error", *(["-select_streams", "v:0"] if stream == "v" else []),
         "-show_entries", entries, "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return float(proc.stdout.strip().splitlines()[0].split(",")[0])  # side data may follow


def correlation(a: Path, b: Path) -> float:
    """Peak normalized cross-correlation of two WAVs within +-0.5 s (1.0 = same signal)."""
    x, rate = soundfile.read(a, dtype="float32")
    y, _ = soundfile.read(b, dtype="float32")
    n = min(len(x), len(y))
    x, y = x[:n] - x[:n].mean(), y[:n] - y[:n].mean()
    norm = float(np.linalg.norm(x) * np.linalg.norm(y)) or 1.0
    size = 1 << int(np.ceil(np.log2(2 * n)))
    full = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size)), size)
    lag = rate // 2
    window = np.concatenate([full[: lag + 1], full[-lag:]])
    return float(np.max(np.abs(window)) / norm)


@pytest.fixture(scope="session")
def tiny_en(tmp_path_factory: pytest.TempPathFactory) -> Transcriber:
    """The English-only model users' ears stand in for."""
    settings = Settings(
        LOCALIZATION_DATA_DIR=tmp_path_factory.mktemp("tiny"), LOCALIZATION_MODELS_DIR=MODELS
    )
    return create_transcriber(settings, model="tiny.en")


@pytest.fixture(scope="session")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Transcriber:
    """The multilingual model, for language identification."""
    settings = Settings(
        LOCALIZATION_DATA_DIR=tmp_path_factory.mktemp("base"), LOCALIZATION_MODELS_DIR=MODELS
    )
    return create_transcriber(settings, model="base")


def run_video_level(
    path: Path,
    targets: list[str],
    *,
    source: str | None = None,
    video_id: str | None = None,
    resources: dict[str, Any] | None = None,
) -> str:
    """Register ``path`` and materialize its video-level run in this process (``resources``
    replace configured ones, for registration and the run alike)."""
    from localization_dagster.definitions import build_definitions, current
    from localization_dagster.registration import register
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import VIDEO_ASSETS, materialize, open_instance

    rt = toolkit(**(resources or {}))
    instance = open_instance(rt.settings)
    record = register(
        rt, instance, path, targets=targets, source_language=source, video_id=video_id
    )
    defs = build_definitions(rt.settings, **resources) if resources else current()
    materialize(defs, instance, VIDEO_ASSETS, record.video_id)
    return record.video_id


def run_localization_level(
    video_id: str, target: str, resources: dict[str, Any] | None = None
) -> Delivery:
    """Materialize the localization-level run of one partition; the delivered files."""
    import dagster as dg

    from localization_dagster.definitions import build_definitions, current
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import LOCALIZATION_ASSETS, materialize, open_instance

    rt = toolkit()
    key = dg.MultiPartitionKey({"video": video_id, "lang": target})
    defs = build_definitions(rt.settings, **resources) if resources else current()
    materialize(defs, open_instance(rt.settings), LOCALIZATION_ASSETS, key)
    name = f"{video_id}.{target}.mp4"
    return Delivery(rt.settings.storage_root / "outputs" / video_id / target / name)


def localize_in_process(
    path: Path, target: str, *, source: str | None = None, video_id: str | None = None
) -> tuple[str, Delivery]:
    """Register ``path`` and materialize both runs in this process, as `localize run` does."""
    vid = run_video_level(path, [target], source=source, video_id=video_id)
    return vid, run_localization_level(vid, target)


def load_asset(name: str, partition: str) -> Any:
    """A materialized asset's value, read back through its IO manager."""
    import dagster as dg

    from localization_dagster.definitions import current
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import open_instance

    instance = open_instance(toolkit().settings)
    with current().get_asset_value_loader(instance=instance) as loader:
        return loader.load_asset_value(dg.AssetKey(name), partition_key=partition)
