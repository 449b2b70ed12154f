"""Lip-sync providers by ``LIPSYNC_PROVIDER`` value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localization_core.errors import ConfigurationError
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.providers.registry import Entry, load_provider, provider_class
from localization_core.settings import Settings, get_settings

_PACKAGE = "localization_core.providers.lipsync"
LIPSYNCERS = {
    "dub_only": Entry(f"{_PACKAGE}.dub_only:DubOnlyLipSyncer"),
    "preview": Entry(f"{_PACKAGE}.preview:PreviewLipSyncer"),
    "latentsync": Entry(f"{_PACKAGE}.latentsync:LatentSyncLipSyncer", pool="gpu"),
    "musetalk": Entry(f"{_PACKAGE}.musetalk:MuseTalkLipSyncer", pool="gpu"),
}
CHECKOUT_ENGINES = ("latentsync", "musetalk")


def create_lipsyncer(settings: Settings | None = None) -> LipSyncer:
    """The configured lip-sync engine."""
    settings = settings or get_settings()
    name = settings.lipsync_provider
    kwargs: dict[str, Any] = {}
    if name in CHECKOUT_ENGINES:
        kwargs["checkout"] = engine_checkout(settings, name)
    return load_provider("lip-sync", name, LIPSYNCERS, LipSyncer, **kwargs)


def lipsyncer_class(settings: Settings | None = None) -> type[LipSyncer]:
    """The configured engine's class: its name, window maximum and whether it changes frames,
    for planning on a node where the engine itself is not installed."""
    settings = settings or get_settings()
    found: type[LipSyncer] = provider_class(
        "lip-sync", settings.lipsync_provider, LIPSYNCERS, LipSyncer
    )
    return found


def engine_checkout(settings: Settings, name: str) -> Any:
    """Where a GPU engine is installed, from ``<NAME>_DIR``, ``_PYTHON``, ``_CHECKPOINTS`` and
    ``_VERSION``; one line naming the missing variable otherwise."""
    from localization_core.providers.lipsync.subprocess_engine import EngineCheckout

    root: Path | None = getattr(settings, f"{name}_dir")
    if root is None:
        raise ConfigurationError(
            f"LIPSYNC_PROVIDER={name} needs {name.upper()}_DIR (the engine's checkout)"
        )
    python: Path | None = getattr(settings, f"{name}_python")
    checkpoints: Path | None = getattr(settings, f"{name}_checkpoints")
    version: str | None = getattr(settings, f"{name}_version")
    return EngineCheckout(
        dir=root,
        python=python or root / ".venv" / "bin" / "python",
        checkpoints=checkpoints or root / _DEFAULT_CHECKPOINTS[name],
        version=version or _DEFAULT_VERSIONS[name],
    )


_DEFAULT_CHECKPOINTS = {"latentsync": "checkpoints", "musetalk": "models"}
_DEFAULT_VERSIONS = {"latentsync": "1.5", "musetalk": "v15"}
