"""Lip-sync providers by ``LIPSYNC_PROVIDER`` value."""

from __future__ import annotations

from localization_core.providers.lipsync.base import LipSyncer
from localization_core.providers.registry import load_provider
from localization_core.settings import Settings, get_settings

LIPSYNCERS = {
    "dub_only": "localization_core.providers.lipsync.dub_only:DubOnlyLipSyncer",
    "preview": "localization_core.providers.lipsync.preview:PreviewLipSyncer",
}


def create_lipsyncer(settings: Settings | None = None) -> LipSyncer:
    """The configured lip-sync engine."""
    settings = settings or get_settings()
    return load_provider("lip-sync", settings.lipsync_provider, LIPSYNCERS, LipSyncer)
