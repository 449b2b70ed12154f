"""Synthesis providers by ``TTS_PROVIDER`` value."""

from __future__ import annotations

from localization_core.errors import ConfigurationError
from localization_core.providers.registry import Entry, load_provider
from localization_core.providers.synthesis.base import Synthesizer
from localization_core.settings import Settings, get_settings

SYNTHESIZERS = {
    "piper": Entry("localization_core.providers.synthesis.piper:PiperSynthesizer"),
    "espeak": Entry("localization_core.providers.synthesis.espeak:EspeakSynthesizer"),
    "http": Entry("localization_core.providers.synthesis.http:HttpSynthesizer"),
}


def create_synthesizer(settings: Settings | None = None) -> Synthesizer:
    """The configured synthesizer."""
    settings = settings or get_settings()
    if settings.tts_provider != "http":
        return load_provider("synthesis", settings.tts_provider, SYNTHESIZERS, Synthesizer)
    if not settings.tts_http_url:
        raise ConfigurationError("TTS_PROVIDER=http needs TTS_HTTP_URL (the TTS service)")
    key = settings.tts_http_api_key
    return load_provider(
        "synthesis",
        "http",
        SYNTHESIZERS,
        Synthesizer,
        url=settings.tts_http_url,
        api_key=key.get_secret_value() if key else None,
        timeout_s=settings.tts_http_timeout_s,
        retry_s=settings.tts_http_retry_s,
        voice=settings.tts_http_voice,
    )
