"""Fake providers, bound as resources in place of the configured ones."""

from __future__ import annotations

from pathlib import Path

from localization_core.errors import TTSGenerationError
from localization_core.providers.synthesis.base import VoiceHint
from localization_core.providers.synthesis.espeak import EspeakSynthesizer
from localization_dagster.resources import SynthesizerResource


class FlakyVoice(EspeakSynthesizer):
    """espeak-ng, except for the chosen lines, which fail like a broken TTS service."""

    def __init__(self, failing: set[str]) -> None:
        super().__init__()
        self.failing = failing

    def synthesize(self, text: str, language: str, voice: VoiceHint, out_path: Path) -> Path:
        if text in self.failing:
            raise TTSGenerationError(-1, f"service refused {text!r}")
        return super().synthesize(text, language, voice, out_path)


class FlakyVoiceResource(SynthesizerResource):
    """The synthesizer resource a test binds instead of the configured one."""

    failing: list[str]

    def get(self) -> FlakyVoice:
        """espeak-ng failing on the chosen lines."""
        return FlakyVoice(set(self.failing))
