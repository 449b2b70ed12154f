"""Transcription providers by ``STT_PROVIDER`` value."""

from __future__ import annotations

from localization_core.providers.registry import Entry, load_provider
from localization_core.providers.transcription.base import Transcriber
from localization_core.settings import Settings, get_settings

TRANSCRIBERS = {
    "faster_whisper": Entry(
        "localization_core.providers.transcription.faster_whisper:FasterWhisperTranscriber"
    ),
}


def create_transcriber(settings: Settings | None = None, model: str | None = None) -> Transcriber:
    """The configured transcriber (``model`` overrides ``STT_MODEL``)."""
    settings = settings or get_settings()
    return load_provider(
        "transcription",
        settings.stt_provider,
        TRANSCRIBERS,
        Transcriber,
        settings=settings,
        model=model or settings.stt_model,
    )
