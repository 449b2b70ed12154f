"""Translation providers by ``TRANSLATOR_PROVIDER`` value."""

from __future__ import annotations

from localization_core.providers.registry import Entry, load_provider
from localization_core.providers.translation.base import Translator
from localization_core.settings import Settings, get_settings

TRANSLATORS = {
    "whisper": Entry("localization_core.providers.translation.whisper:WhisperTranslator"),
    "sidecar": Entry("localization_core.providers.translation.sidecar:SidecarTranslator"),
    "openai": Entry("localization_core.providers.translation.openai_compat:OpenAITranslator"),
}


def create_translator(settings: Settings | None = None) -> Translator:
    """The configured translator."""
    settings = settings or get_settings()
    return load_provider(
        "translation", settings.translator_provider, TRANSLATORS, Translator, settings=settings
    )
