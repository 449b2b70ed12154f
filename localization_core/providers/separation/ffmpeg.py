"""Mid/side separation with ffmpeg band filters; ducking fallback for dual-mono input.

Speech is usually panned to the centre, so the mid channel carries the voice and the side
channel carries the stereo background. When the input has no stereo image (mono or dual-mono),
there is nothing to separate: the result is flagged *degraded*, vocals are the band-passed
original and the background is the original ducked under the speech found by energy VAD.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile

from localization_core import media
from localization_core.audio import (
    duck_gain,
    energy_spans,
    read_audio,
    write_audio,
)
from localization_core.domain import SeparationResult
from localization_core.errors import InvalidInputError, SeparationError
from localization_core.providers.separation.base import AudioSeparator

DUAL_MONO_DB = 30.0
DUCK_DB = -15.0
VOICE_BAND = "highpass=f=90,lowpass=f=7800"
BLOCK = 48000 * 10


def stereo_image_db(path: Path) -> float:
    """How far the side channel (L-R) is below the mid (L+R), in dB, read a block at a time."""
    energy = np.zeros(2, dtype=np.float64)  # mid, side
    with soundfile.SoundFile(str(path)) as source:
        for block in source.blocks(blocksize=BLOCK, dtype="float32", always_2d=True):
            left, right = block[:, 0], block[:, -1]
            for index, part in enumerate(((left + right) / 2.0, (left - right) / 2.0)):
                energy[index] += float(np.sum(np.square(part, dtype=np.float64)))
        count = max(source.frames, 1)
    mid, side = (20.0 * np.log10(max(np.sqrt(value / count), 1e-10)) for value in energy)
    return float(mid - side)


class FfmpegSeparator(AudioSeparator):
    """CPU separation good enough to dub over; reports when it had to degrade."""

    name = "ffmpeg"

    def separate(self, media_path: Path, out_dir: Path) -> SeparationResult:
        """Write vocals/background stems; ``degraded`` when the input is (dual-)mono."""
        out_dir.mkdir(parents=True, exist_ok=True)
        facts = media.probe(media_path)
        if not facts.has_audio:
            raise InvalidInputError(f"{media_path.name}: no audio stream to separate")
        vocals, background = out_dir / "vocals.wav", out_dir / "background.wav"
        with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
            original = media.extract_full_audio(media_path, Path(scratch) / "original.wav")
            stereo_db = stereo_image_db(original)
            if facts.audio_streams[0].channels < 2 or stereo_db >= DUAL_MONO_DB:
                return self.without_stereo_image(
                    media_path, out_dir, original=original, stereo_db=stereo_db
                )
            try:
                media.audio_filter(original, vocals, f"pan=mono|c0=0.5*c0+0.5*c1,{VOICE_BAND}")
                media.audio_filter(
                    original, background, "pan=stereo|c0=0.5*c0-0.5*c1|c1=0.5*c1-0.5*c0"
                )
            except Exception as exc:
                raise SeparationError(f"mid/side separation failed: {exc}") from exc
        return SeparationResult(
            vocals_path=str(vocals),
            background_path=str(background),
            degraded=False,
            method="mid_side",
            note=f"stereo image {stereo_db:.1f} dB below the centre",
        )

    def without_stereo_image(
        self, media_path: Path, out_dir: Path, *, original: Path, stereo_db: float
    ) -> SeparationResult:
        """Mono or dual-mono input: band-passed vocals, the original ducked under them."""
        del media_path
        vocals, background = out_dir / "vocals.wav", out_dir / "background.wav"
        samples, rate = read_audio(original)
        media.audio_filter(original, vocals, f"pan=mono|c0=0.5*c0+0.5*c1,{VOICE_BAND}")
        voice, voice_rate = read_audio(vocals, mono=True)
        spans = energy_spans(voice, voice_rate)
        gain = duck_gain(spans, len(samples), rate, DUCK_DB)
        write_audio(background, samples * gain[:, None], rate)
        return SeparationResult(
            vocals_path=str(vocals),
            background_path=str(background),
            degraded=True,
            method="ducking",
            note=(
                f"dual-mono input (side channel {stereo_db:.1f} dB below mid): no stereo image "
                f"to separate; background is the original ducked {DUCK_DB:.0f} dB under "
                f"{len(spans)} speech spans"
            ),
        )


class AutoSeparator(FfmpegSeparator):
    """Mid/side where the input has a stereo image; DeepFilterNet3 where it has none (mono and
    dual-mono, where ducking would leave the original speaker under the dub)."""

    name = "auto"

    def without_stereo_image(
        self, media_path: Path, out_dir: Path, *, original: Path, stereo_db: float
    ) -> SeparationResult:
        """DeepFilterNet3's separation, noting why mid/side was not used."""
        from localization_core.providers.separation.deepfilternet import DeepFilterNetSeparator

        del original
        result = DeepFilterNetSeparator().separate(media_path, out_dir)
        why = f"no stereo image (side channel {stereo_db:.1f} dB below mid)"
        return result.model_copy(update={"note": f"{why}: {result.note}"})
