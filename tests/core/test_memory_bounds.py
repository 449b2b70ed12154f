"""Long audio does not grow the memory of the stages that stream it: the dub's mix and the
DeepFilterNet background are written a block at a time, so four times the audio must not need
anywhere near four times the memory (numpy's buffers are traced by tracemalloc)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from localization_core.artifacts import Stems
from localization_core.audio import write_audio
from localization_core.domain import SeparationResult
from localization_core.providers.separation.deepfilternet import RATE, background_file
from localization_core.stages.dub_track import MIX_RATE, _mix
from localization_core.storage.local import LocalStorage
from localization_core.workspace import Workspace


def noise(seconds: float, channels: int, seed: int) -> np.ndarray:
    shape = (int(seconds * RATE), channels) if channels > 1 else (int(seconds * RATE),)
    return (np.random.default_rng(seed).standard_normal(shape) * 0.05).astype(np.float32)


def peak_traced(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_background_of_four_times_the_audio_needs_no_more_memory(tmp_path: Path) -> None:
    def peak(seconds: float) -> int:
        folder = tmp_path / f"{seconds:g}"
        mix = write_audio(folder / "mix.wav", noise(seconds, 2, 1), RATE)
        vocals = write_audio(folder / "vocals.wav", noise(seconds, 1, 2), RATE)
        return peak_traced(lambda: background_file(mix, vocals, folder / "background.wav"))

    short, long = peak(40.0), peak(160.0)
    assert long < 1.3 * short, (short, long)


def test_the_mix_of_four_times_the_audio_needs_no_more_than_its_voice_track(
    tmp_path: Path,
) -> None:
    def peak(seconds: float) -> tuple[int, int]:
        workspace = Workspace(LocalStorage(tmp_path / f"s{seconds:g}"), tmp_path / "work")
        write_audio(tmp_path / "background.wav", noise(seconds, 2, 3), MIX_RATE)
        workspace.put("stems/background.wav", tmp_path / "background.wav")
        stems = Stems(
            vocals_key="-", background_key="stems/background.wav", speech_key="-",
            separation=SeparationResult(vocals_path="", background_path=""),
        )  # fmt: skip
        voice = noise(seconds, 1, 4)
        scratch = tmp_path / f"mix{seconds:g}"
        scratch.mkdir()
        return peak_traced(lambda: _mix(workspace, stems, voice, scratch, -16.0)), voice.nbytes

    (short, _), (long, voice_bytes) = peak(40.0), peak(160.0)
    # the mono voice track (held whole by the dub) is the only thing that grows with length
    assert long < 1.3 * short + voice_bytes, (short, long, voice_bytes)
