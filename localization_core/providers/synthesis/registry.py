"""Synthesis providers by ``TTS_PROVIDER`` value."""

from __future__ import annotations

from localization_core.providers.registry import Entry, load_provider
from localization_core.providers.synthesis.base import Synthesizer
from localization_core.settings import Settings, get_settings

SYNTHESIZERS = {
    "espeak": Entry("localization_core.providers.synthesis.espeak:EspeakSynthesizer"),
}


def create_synthesizer(settings: Settings | None = None) -> Synthesizer:
    """The configured synthesizer."""
    settings = settings or get_settings()
    return load_provider("synthesis", settings.tts_provider, SYNTHESIZERS, Synthesizer)
