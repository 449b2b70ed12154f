"""Speech synthesis contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from localization_core.domain import Frozen


class VoiceHint(Frozen):
    """What is known of the original speaker, for voice matching or cloning."""

    speaker: str = "S1"
    median_pitch_hz: float | None = None
    reference_audio: str | None = None


class Synthesizer(ABC):
    """Speaks one line of text into a WAV file."""

    name: str = ""

    @abstractmethod
    def synthesize(self, text: str, language: str, voice: VoiceHint, out_path: Path) -> Path:
        """Write the spoken ``text`` to ``out_path`` (WAV) and return it."""

    @abstractmethod
    def signature(self, language: str, voice: VoiceHint) -> str:
        """Engine, version and parameters that decide the output, for cache keys."""
