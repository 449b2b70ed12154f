"""Diarization providers by ``DIARIZER_PROVIDER`` value."""

from __future__ import annotations

from localization_core.providers.diarization.base import Diarizer
from localization_core.providers.registry import Entry, load_provider
from localization_core.settings import Settings, get_settings

DIARIZERS = {
    "single": Entry("localization_core.providers.diarization.single:SingleSpeaker"),
    "resemblyzer": Entry("localization_core.providers.diarization.resemblyzer:ResemblyzerDiarizer"),
    "pyannote": Entry("localization_core.providers.diarization.pyannote:PyannoteDiarizer", "gpu"),
}


def create_diarizer(settings: Settings | None = None) -> Diarizer:
    """The configured diarizer."""
    settings = settings or get_settings()
    name = settings.diarizer_provider
    if name == "pyannote":
        return load_provider("diarization", name, DIARIZERS, Diarizer, settings=settings)
    return load_provider("diarization", name, DIARIZERS, Diarizer)
