"""espeak-ng synthesis: a robotic but real CPU voice.

Voice matching is an approximation: the male/female register and the pitch are chosen from the
original speaker's median pitch; there is no timbre cloning. Each speaker of a video takes
another variant of their register (``cast``), so two speakers never share a voice (up to 8 male
and 5 female speakers).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from localization_core.errors import TTSGenerationError
from localization_core.media import atomic_output
from localization_core.providers.synthesis.base import Synthesizer, VoiceHint

ESPEAK = "espeak-ng"
WORDS_PER_MINUTE = 160
MALE_BELOW_HZ = 165.0
# espeak-ng's variants by register, the default first
MALE_VARIANTS = ("m3", "m2", "m4", "m5", "m6", "m7", "m8", "m1")
FEMALE_VARIANTS = ("f3", "f2", "f4", "f5", "f1")


@lru_cache(maxsize=1)
def espeak_languages() -> frozenset[str]:
    """Language codes espeak-ng has voices for (e.g. ``en``, ``en-us``, ``pt-br``)."""
    listing = subprocess.run(
        [ESPEAK, "--voices"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    codes: set[str] = set()
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 1:
            codes.add(fields[1].lower())
            codes.update(code.lower() for code in re.findall(r"\(([\w-]+) \d+\)", line))
    return frozenset(codes)


def espeak_voice(language: str) -> str:
    """The espeak-ng voice for a language code; a regional code falls back to its language."""
    language = language.lower()
    available = espeak_languages()
    for candidate in (language, language.split("-")[0]):
        if candidate in available:
            return candidate
    raise TTSGenerationError(-1, f"espeak-ng has no voice for language {language!r}")


def is_male(voice: VoiceHint) -> bool:
    """Whether espeak-ng speaks ``voice`` with a male variant (an unknown pitch counts as male)."""
    return voice.median_pitch_hz is None or voice.median_pitch_hz < MALE_BELOW_HZ


def voice_parameters(voice: VoiceHint) -> tuple[str, int]:
    """The variant (``ordinal``: the speaker's place in their register, see ``cast``) and the
    pitch (0-99) approximating the speaker's median pitch."""
    pitch_hz = voice.median_pitch_hz
    variants = MALE_VARIANTS if is_male(voice) else FEMALE_VARIANTS
    variant = variants[voice.ordinal % len(variants)]
    if pitch_hz is None:
        return variant, 50
    if is_male(voice):
        return variant, int(min(90, max(10, 50 + (pitch_hz - 120.0) * 0.6)))
    return variant, int(min(90, max(10, 50 + (pitch_hz - 210.0) * 0.4)))


class EspeakSynthesizer(Synthesizer):
    """espeak-ng through its command line."""

    name = "espeak"

    def __init__(self, words_per_minute: int = WORDS_PER_MINUTE) -> None:
        self.words_per_minute = words_per_minute

    def cast(self, language: str, voices: Sequence[VoiceHint]) -> tuple[VoiceHint, ...]:
        """Each speaker numbered within their register, by rank: the first man gets m3 and the
        first woman f3, the next of each m2 and f2, and so on."""
        del language
        counts = {True: 0, False: 0}
        cast = []
        for voice in sorted(voices, key=lambda one: one.ordinal):
            male = is_male(voice)
            cast.append(voice.model_copy(update={"ordinal": counts[male]}))
            counts[male] += 1
        return tuple(cast)

    def signature(self, language: str, voice: VoiceHint) -> str:
        """Engine, voice, variant, pitch and rate: everything that changes the waveform."""
        variant, pitch = voice_parameters(voice)
        return f"espeak-ng|{espeak_voice(language)}+{variant}|p{pitch}|s{self.words_per_minute}"

    def describe(self, language: str) -> str:
        """espeak-ng's voice for ``language``: formant synthesis, pitch-matched only."""
        return f"espeak-ng {espeak_voice(language)} (formant synthesis, pitch-matched; robotic)"

    def synthesize(self, text: str, language: str, voice: VoiceHint, out_path: Path) -> Path:
        """Speak ``text`` into ``out_path`` (22.05 kHz mono WAV)."""
        spoken = " ".join(text.split())
        if not re.search(r"\w", spoken):
            raise TTSGenerationError(-1, "nothing to say: the line has no words")
        variant, pitch = voice_parameters(voice)
        name = f"{espeak_voice(language)}+{variant}"
        with atomic_output(out_path) as tmp:
            args = [ESPEAK, "-v", name, "-p", str(pitch), "-s", str(self.words_per_minute)]
            proc = subprocess.run(
                [*args, "-w", str(tmp), "--", spoken],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if proc.returncode != 0 or tmp.stat().st_size <= 44:
                raise TTSGenerationError(-1, f"espeak-ng failed: {proc.stderr.strip()[:200]}")
        return out_path
