"""Fake providers, bound as resources in place of the configured ones."""

from __future__ import annotations

from pathlib import Path

from localization_core.errors import LipSyncError, TTSGenerationError
from localization_core.presets import Tuning
from localization_core.providers.lipsync.preview import PreviewLipSyncer
from localization_core.providers.synthesis.base import VoiceHint
from localization_core.providers.synthesis.espeak import EspeakSynthesizer
from localization_dagster.resources import LipSyncResource, SynthesizerResource


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


class WindowFailure(PreviewLipSyncer):
    """The preview engine, except that the window numbered ``window`` crashes like a lost GPU
    worker while the file ``switch`` exists."""

    def __init__(self, window: int, switch: Path) -> None:
        self.window, self.switch = window, switch

    def sync(self, video: Path, audio: Path, out_path: Path, tuning: Tuning) -> Path:
        if self.switch.exists() and video.parent.name == str(self.window):  # scratch/<index>/
            raise LipSyncError(f"CUDA error: an illegal memory access (window {self.window})")
        return super().sync(video, audio, out_path, tuning)


class WindowFailureResource(LipSyncResource):
    """The lip-sync resource a test binds instead of the configured one."""

    window: int
    switch: str

    def get(self) -> WindowFailure:
        """The preview engine with one failing window."""
        return WindowFailure(self.window, Path(self.switch))
