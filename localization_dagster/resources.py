"""Process-wide access to settings, storage and providers for the assets.

Providers load models, so each is built once per process, on first use, and only when a step
needs it (a worker that only synthesizes never loads Whisper).
"""

from functools import cached_property

import dagster as dg

from localization_core.providers.lipsync.base import LipSyncer
from localization_core.providers.lipsync.registry import create_lipsyncer
from localization_core.providers.separation.base import AudioSeparator
from localization_core.providers.separation.registry import create_separator
from localization_core.providers.synthesis.base import Synthesizer
from localization_core.providers.synthesis.registry import create_synthesizer
from localization_core.providers.transcription.base import Transcriber
from localization_core.providers.transcription.registry import create_transcriber
from localization_core.providers.translation.base import Translator
from localization_core.providers.translation.registry import create_translator
from localization_core.settings import Settings, get_settings
from localization_core.storage import StorageBackend, create_storage
from localization_core.workspace import Workspace

GPU_PROVIDERS = {
    "separation": {"demucs"},
    "transcription": set(),
    "translation": set(),
    "synthesis": set(),
    "lipsync": {"latentsync", "musetalk"},
}
REMOTE_PROVIDERS = {"translation": {"openai"}, "synthesis": {"http"}}


class Runtime:
    """Lazily built collaborators of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def storage(self) -> StorageBackend:
        """The configured storage backend."""
        return create_storage(self.settings)

    @cached_property
    def workspace(self) -> Workspace:
        """Local scratch space backed by the storage."""
        return Workspace(self.storage, self.settings.data_dir / "work")

    @cached_property
    def separator(self) -> AudioSeparator:
        """The separation provider."""
        return create_separator(self.settings)

    @cached_property
    def transcriber(self) -> Transcriber:
        """The transcription provider."""
        return create_transcriber(self.settings)

    @cached_property
    def translator(self) -> Translator:
        """The translation provider."""
        return create_translator(self.settings)

    @cached_property
    def synthesizer(self) -> Synthesizer:
        """The synthesis provider."""
        return create_synthesizer(self.settings)

    @cached_property
    def lipsyncer(self) -> LipSyncer:
        """The lip-sync engine."""
        return create_lipsyncer(self.settings)


_RUNTIMES: dict[str, Runtime] = {}


def runtime() -> Runtime:
    """The runtime of this process for the current settings."""
    settings = get_settings()
    key = settings.model_dump_json()
    if key not in _RUNTIMES:
        _RUNTIMES.clear()
        _RUNTIMES[key] = Runtime(settings)
    return _RUNTIMES[key]


def pool_for(layer: str) -> str | None:
    """The concurrency pool of a step: ``gpu`` for local-GPU providers, the service name for
    remote ones, none for CPU work."""
    settings = get_settings()
    chosen = {
        "separation": settings.separator_provider,
        "transcription": settings.stt_provider,
        "translation": settings.translator_provider,
        "synthesis": settings.tts_provider,
        "lipsync": settings.lipsync_provider,
    }[layer]
    if chosen in GPU_PROVIDERS.get(layer, set()) or (
        layer == "transcription" and settings.whisper_device == "cuda"
    ):
        return "gpu"
    if chosen in REMOTE_PROVIDERS.get(layer, set()):
        return chosen
    return None


class LocalizationResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Gives assets the process runtime (settings come from the environment, read once)."""

    def get(self) -> Runtime:
        """The runtime of this process."""
        return runtime()
