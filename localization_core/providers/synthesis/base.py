"""Speech synthesis contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from localization_core.domain import Frozen


class VoiceHint(Frozen):
    """What is known of the original speaker, for voice matching or cloning."""

    speaker: str = "S1"
    median_pitch_hz: float | None = None
    # the speaker's reference clip: a local path when handed to a synthesizer; its content
    # digest keys the cache (the path may differ between machines)
    reference_audio: str | None = None
    reference_digest: str | None = None
    # the words the reference clip says (voice-cloning engines condition on both)
    reference_text: str | None = None
    # the source line's speaking rate relative to its language's usual rate (>1: faster)
    pace: float | None = None
    # which of the engine's voices the speaker gets: 0 for the video's main speaker, 1 for the
    # next, ... (engines with one stock voice vary its pitch and rate by it)
    ordinal: int = 0


class Synthesizer(ABC):
    """Speaks one line of text into a WAV file."""

    name: str = ""

    @abstractmethod
    def synthesize(self, text: str, language: str, voice: VoiceHint, out_path: Path) -> Path:
        """Write the spoken ``text`` to ``out_path`` (WAV) and return it."""

    def describe(self, language: str) -> str:
        """What speaks ``language`` and how close to the speaker it is, for the report."""
        return f"{self.name} ({language})"

    def cast(self, language: str, voices: Sequence[VoiceHint]) -> tuple[VoiceHint, ...]:
        """The voices of one video's speakers as this engine will speak them, so that no two
        sound alike; by default as given (a cloning engine tells them apart by their
        references)."""
        del language
        return tuple(voices)

    @abstractmethod
    def signature(self, language: str, voice: VoiceHint) -> str:
        """Engine, version and parameters that decide the output, for cache keys."""
