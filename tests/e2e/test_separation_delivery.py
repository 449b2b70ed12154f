"""What a viewer hears of the original speaker under the dub, on a clip built from known parts:
the face clip with French speech over a music bed 12 dB below it, dual-mono."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from localization_core.audio import read_audio, write_audio
from tests import separation_harness as harness
from tests.conftest import ffmpeg, media_file
from tests.e2e.conftest import localize_in_process

RATE = 16000
MAX_LEAKAGE_DB = -20.0  # ducking, the previous default, leaves -15 dB


def projection_energy(signal: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per 0.5 s frame: the energy of ``signal``'s projection onto ``reference``."""
    frame = RATE // 2
    count = min(len(signal), len(reference)) // frame
    out = np.zeros(count)
    for index in range(count):
        ref = reference[index * frame : (index + 1) * frame]
        part = signal[index * frame : (index + 1) * frame]
        power = float(np.dot(ref, ref))
        out[index] = float(np.dot(part, ref)) ** 2 / power if power > 0 else 0.0
    return out


@pytest.fixture()
def parts(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The clip, and its speech and bed at 16 kHz (what the measure compares against)."""
    speech = harness.load_speech("speech_fr.flac")
    frames = 8 * harness.RATE
    speech = np.pad(speech, (0, max(0, frames - len(speech))))[:frames]
    mix, bed = harness.build_mix(speech, "music", -12.0)
    clean = mix - bed
    audio = write_audio(tmp_path / "mix.wav", np.stack([mix, mix], axis=1), harness.RATE)
    clip = tmp_path / "fr-music.mp4"
    ffmpeg("-i", str(media_file("talking_head_512_25fps.mp4")), "-i", str(audio),
           "-map", "0:v:0", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-b:a", "192k",
           "-t", "8.0", str(clip))  # fmt: skip
    return clip, _at_16k(clean, tmp_path / "s.wav"), _at_16k(bed, tmp_path / "b.wav")


def _at_16k(samples: np.ndarray, path: Path) -> np.ndarray:
    write_audio(path, samples.astype(np.float32), harness.RATE)
    ffmpeg("-i", str(path), "-ac", "1", "-ar", str(RATE), str(path.with_suffix(".16k.wav")))
    return read_audio(path.with_suffix(".16k.wav"), mono=True)[0]


@pytest.mark.usefixtures("project")
def test_the_dub_carries_the_original_speaker_far_below_the_ducking_level(
    parts: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    clip, speech, bed = parts
    _, delivery = localize_in_process(clip, "en", source="fr", video_id="fr-music")
    report = delivery.report
    assert report["separation"]["method"] == "deepfilternet", report["separation"]
    assert (
        report["voice"]["synthesizer"] == "piper"
        and "not a clone" in report["voice"]["description"]
    )

    dub = read_audio(delivery.audio(0, tmp_path / "dub.wav"), mono=True)[0]
    original = read_audio(delivery.audio(1, tmp_path / "original.wav"), mono=True)[0]
    # judged against the bed, whose level in each track is known: loudness normalization and
    # the ducking under the dub voice scale the bed and any leaked speech alike
    bed_gain = projection_energy(dub, bed).sum() / projection_energy(original, bed).sum()
    speech_gain = projection_energy(dub, speech).sum() / projection_energy(original, speech).sum()
    leakage = 10 * np.log10(speech_gain / bed_gain)
    print(f"original speech left in the delivered dub track: {leakage:.1f} dB")
    assert leakage <= MAX_LEAKAGE_DB
