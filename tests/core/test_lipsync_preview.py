"""The CPU preview engine and the presets: a mouth that moves with the dub and rests in its
pauses, the diffusion engines' contract (25 fps in and out, every frame kept, "Face not
detected" on a frame without a face), and presets resolved against the configured engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from localization_core import media
from localization_core.audio import read_audio, write_audio
from localization_core.errors import FaceNotDetectedError, InvalidInputError
from localization_core.frames import read_rgb
from localization_core.presets import resolve
from localization_core.providers.lipsync.preview import (
    PreviewLipSyncer,
    face_boxes,
    speech_envelope,
)
from tests.conftest import ffmpeg, media_file

FRAMES = 64  # four 16-frame chunks at 25 fps
SPOKEN = 32  # the dub speaks for the first half and is silent for the second
# mean absolute difference (0-255) in the mouth region: re-encoding alone stays under the
# first; a mouth that opened is well over the second
ENCODE_NOISE_MAD = 2.5
MOVED_MAD = 6.0


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 64-frame face clip at 25 fps and 16 kHz dub audio: speech, then silence."""
    folder = tmp_path_factory.mktemp("preview")
    clip = folder / "clip.mp4"
    ffmpeg("-i", str(media_file("talking_head_512_25fps.mp4")), "-frames:v", str(FRAMES),
           "-an", "-c:v", "libx264", "-crf", "16", str(clip))  # fmt: skip
    speech = media.extract_speech_audio(media_file("speech_en_jfk.flac"), folder / "jfk.wav")
    samples, rate = read_audio(speech, mono=True)
    dub = np.zeros(FRAMES * rate // 25, dtype=np.float32)
    dub[: SPOKEN * rate // 25] = samples[: SPOKEN * rate // 25]
    return clip, write_audio(folder / "dub.wav", dub, rate)


def mouth_differences(before: Path, after: Path) -> list[float]:
    """Per frame, the mean absolute difference inside the mouth region of the face."""
    first = next(read_rgb(before))
    x, y, w, h = face_boxes([first])[0]
    rows, cols = slice(y + int(0.6 * h), y + int(1.15 * h)), slice(x + w // 6, x + 5 * w // 6)
    return [
        float(np.abs(a[rows, cols].astype(np.int16) - b[rows, cols].astype(np.int16)).mean())
        for a, b in zip(read_rgb(before), read_rgb(after), strict=True)
    ]


def test_the_mouth_moves_with_the_dub_and_rests_in_its_pauses(
    window: tuple[Path, Path], tmp_path: Path
) -> None:
    clip, dub = window
    out = PreviewLipSyncer().sync(clip, dub, tmp_path / "out.mp4", resolve("FAST", "preview", 0))
    facts = media.probe(out)
    assert facts.fps == 25 and facts.frame_count == FRAMES, "25 fps in and out, no frame lost"
    moved = mouth_differences(clip, out)
    level = speech_envelope(dub, FRAMES, smoothing=1)
    loud = [m for m, v in zip(moved, level, strict=True) if v > 0.5]
    assert loud and float(np.mean(loud)) > MOVED_MAD, moved
    assert max(moved[SPOKEN + 2 :]) < ENCODE_NOISE_MAD, "the mouth moved in a pause"
    assert float(np.corrcoef(level[:SPOKEN], moved[:SPOKEN])[0, 1]) > 0.5, "not with the dub"


def test_a_frame_without_a_face_is_face_not_detected(
    window: tuple[Path, Path], tmp_path: Path
) -> None:
    """Eight faceless frames in the middle of a face clip (up to 3 missed ones are bridged:
    the cascade flickers)."""
    clip, dub = window
    blanked = tmp_path / "blanked.mp4"
    ffmpeg("-i", str(clip), "-vf", "drawbox=c=black:t=fill:enable='between(n,20,27)'",
           "-c:v", "libx264", "-crf", "16", str(blanked))  # fmt: skip
    with pytest.raises(FaceNotDetectedError, match=r"^Face not detected \(frame 20\)"):
        PreviewLipSyncer().sync(blanked, dub, tmp_path / "out.mp4", resolve(None, "preview", 0))
    assert not (tmp_path / "out.mp4").exists(), "a failed call leaves no output"


def test_presets_resolve_against_the_configured_engine() -> None:
    assert resolve(None, "latentsync", 0).steps == 25
    assert resolve("ULTRA", "latentsync", 0).steps == 30
    assert (
        resolve("FAST", "musetalk", 0).fp16 and resolve("FAST", "musetalk", 0).max_window_s == 120
    )
    assert resolve("HIGH_QUALITY", "latentsync", 0).max_window_s == 30
    with pytest.raises(InvalidInputError, match="preset ULTRA is a latentsync or preview tuning"):
        resolve("ULTRA", "musetalk", 0)
    with pytest.raises(InvalidInputError, match="needs LIPSYNC_PROVIDER=musetalk or preview"):
        resolve("FAST", "dub_only", 120)
    assert resolve(None, "dub_only", 120).max_window_s == 120
    with pytest.raises(InvalidInputError, match="not one of FAST, BALANCED"):
        resolve("MEDIUM", "preview", 0)
    signatures = {resolve(p, "preview", 0).signature for p in ("FAST", "BALANCED", "ULTRA")}
    assert len(signatures) == 3, "each preview preset is a tuning of its own"
    assert "preset" not in resolve("FAST", "preview", 0).signature
