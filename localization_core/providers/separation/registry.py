"""Separation providers by ``SEPARATOR_PROVIDER`` value."""

from __future__ import annotations

from localization_core.providers.registry import Entry, load_provider
from localization_core.providers.separation.base import AudioSeparator
from localization_core.settings import Settings, get_settings

SEPARATORS = {
    "auto": Entry("localization_core.providers.separation.ffmpeg:AutoSeparator"),
    "demucs": Entry("localization_core.providers.separation.demucs:DemucsSeparator", "gpu"),
    "deepfilternet": Entry(
        "localization_core.providers.separation.deepfilternet:DeepFilterNetSeparator"
    ),
    "ffmpeg": Entry("localization_core.providers.separation.ffmpeg:FfmpegSeparator"),
}


def create_separator(settings: Settings | None = None) -> AudioSeparator:
    """The configured separator."""
    settings = settings or get_settings()
    name = settings.separator_provider
    if name == "demucs":
        return load_provider("separation", name, SEPARATORS, AudioSeparator, settings=settings)
    return load_provider("separation", name, SEPARATORS, AudioSeparator)
