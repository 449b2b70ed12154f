"""Dagster resources: the storage, the pipeline's limits, and one resource per provider layer.

Each resource carries its parameters as fields, filled from the environment when the definitions
load, so the UI's resource page shows the configuration (secrets as the name of their variable,
never their value) and a test passes a fake by binding another resource under the same key.

Models and clients are expensive: each resource builds its object on first use and keeps it for
the process, keyed on every field value it was built from (secrets unmasked, in memory only), so
two different configurations never share an object.

*Which* provider runs is a deploy-time choice: pools and Celery queues are fixed when the
definitions load (``pool_for``), so a launch-time switch could run a GPU engine outside its pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import dagster as dg
from pydantic import Field, SecretStr

from localization_core.presets import Tuning, resolve
from localization_core.providers.diarization.base import Diarizer
from localization_core.providers.diarization.registry import DIARIZERS, create_diarizer
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.providers.lipsync.registry import (
    LIPSYNCERS,
    create_lipsyncer,
    lipsyncer_class,
)
from localization_core.providers.registry import pool_of
from localization_core.providers.separation.base import AudioSeparator
from localization_core.providers.separation.registry import SEPARATORS, create_separator
from localization_core.providers.synthesis.base import Synthesizer
from localization_core.providers.synthesis.registry import SYNTHESIZERS, create_synthesizer
from localization_core.providers.transcription.base import Transcriber
from localization_core.providers.transcription.registry import TRANSCRIBERS, create_transcriber
from localization_core.providers.translation.base import Translator
from localization_core.providers.translation.registry import TRANSLATORS, create_translator
from localization_core.settings import Settings, get_settings
from localization_core.stages.source_video import Limits
from localization_core.storage import StorageBackend
from localization_core.storage.factory import open_storage
from localization_core.workspace import Workspace
from localization_dagster.workers import queue_tags

T = TypeVar("T")
_BUILT: dict[tuple[object, ...], object] = {}


def _once(key: tuple[object, ...], build: Callable[[], T]) -> T:
    """The object built for ``key`` in this process (built now if it is the first use)."""
    if key not in _BUILT:
        _BUILT[key] = build()
    return cast(T, _BUILT[key])


class StorageResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where uploads, artifacts, segments and outputs live (a local folder or an Azure Blob
    container), and the local scratch folder stages work in."""

    storage_type: Literal["local", "azure_blob"] = "local"
    local_root: str
    scratch_dir: str
    azure_container: str = "localization"
    azure_account_url: str | None = None
    azure_connection_string: str | None = None

    def _identity(self) -> tuple[object, ...]:
        return (
            self.storage_type,
            self.local_root,
            self.azure_container,
            self.azure_account_url,
            self.azure_connection_string,
        )

    def backend(self) -> StorageBackend:
        """The storage backend of this configuration (one per process)."""
        return _once(
            ("storage", *self._identity()),
            lambda: open_storage(
                self.storage_type,
                local_root=Path(self.local_root),
                container=self.azure_container,
                connection_string=self.azure_connection_string,
                account_url=self.azure_account_url,
            ),
        )

    def workspace(self) -> Workspace:
        """Local working copies of stored objects, in the scratch folder."""
        return _once(
            ("workspace", self.scratch_dir, *self._identity()),
            lambda: Workspace(self.backend(), Path(self.scratch_dir)),
        )


class PipelineResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """What a source may be (refused at ``source_video`` otherwise) and the mix's loudness."""

    min_duration_s: float
    max_duration_s: float
    max_upload_bytes: int
    loudness_target_lufs: float
    upload_targets: list[str] = Field(default_factory=list)
    review_policy: str = "auto"
    review_transcript: bool = False

    def limits(self) -> Limits:
        """The source limits ``ingest`` enforces."""
        return Limits(
            min_duration_s=self.min_duration_s,
            max_duration_s=self.max_duration_s,
            max_bytes=self.max_upload_bytes,
        )


class SeparatorResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Speech/background separation (``SEPARATOR_PROVIDER``)."""

    provider: str

    def get(self) -> AudioSeparator:
        """The separator (built on first use, kept for the process)."""
        settings = get_settings().model_copy(update={"separator_provider": self.provider})
        return _once(("separator", self.provider), lambda: create_separator(settings))


class TranscriberResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Speech-to-text with language detection (``STT_PROVIDER``, ``STT_MODEL``, ``WHISPER_*``)."""

    provider: str
    model: str
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = 2
    models_dir: str

    def get(self) -> Transcriber:
        """The transcriber, its model loaded on first use and kept for the process."""
        settings = get_settings().model_copy(
            update={
                "stt_provider": self.provider,
                "stt_model": self.model,
                "whisper_device": self.device,
                "whisper_threads": self.threads,
                "models_dir": Path(self.models_dir),
            }
        )
        key = ("transcriber", self.provider, self.model, self.device, self.threads, self.models_dir)
        return _once(key, lambda: create_transcriber(settings))


class DiarizerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Who speaks when (``DIARIZER_PROVIDER``; ``DIARIZER_SPEAKERS`` fixes the count,
    ``PYANNOTE_MODEL_DIR`` holds pyannote's pipeline)."""

    provider: str
    speakers: int = 0
    pyannote_model_dir: str | None = None

    def get(self) -> Diarizer:
        """The diarizer (its model loaded on first use, kept for the process)."""
        settings = get_settings().model_copy(
            update={
                "diarizer_provider": self.provider,
                "pyannote_model_dir": Path(self.pyannote_model_dir)
                if self.pyannote_model_dir
                else None,
            }
        )
        key = ("diarizer", self.provider, self.pyannote_model_dir)
        return _once(key, lambda: create_diarizer(settings))

    def fixed_count(self) -> int | None:
        """The speaker count every video is diarized into (None: the diarizer decides)."""
        return self.speakers or None


class TranslatorResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Translation into the target language (``TRANSLATOR_PROVIDER``, ``TRANSLATION_MODEL``,
    ``SIDECAR_DIR``; for ``openai``: ``TRANSLATOR_BASE_URL``, ``TRANSLATOR_MODEL``,
    ``TRANSLATOR_API_KEY``, timeouts and batch size)."""

    provider: str
    model: str
    models_dir: str
    sidecar_dir: str
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = 2
    base_url: str | None = None
    llm_model: str = "qwen2.5-coder-1.5b-instruct"
    api_key: str | None = None
    timeout_s: float = 120.0
    retry_s: float = 60.0
    batch_size: int = 8
    schema_style: Literal["json_schema", "json_object"] = "json_schema"

    def _settings(self) -> Settings:
        return get_settings().model_copy(
            update={
                "translator_provider": self.provider,
                "translation_model": self.model,
                "models_dir": Path(self.models_dir),
                "sidecar_dir": Path(self.sidecar_dir),
                "whisper_device": self.device,
                "whisper_threads": self.threads,
                "translator_base_url": self.base_url,
                "translator_model": self.llm_model,
                "translator_api_key": SecretStr(self.api_key) if self.api_key else None,
                "translator_timeout_s": self.timeout_s,
                "translator_retry_s": self.retry_s,
                "translator_batch_size": self.batch_size,
                "translator_schema_style": self.schema_style,
            }
        )

    def get(self) -> Translator:
        """The translator, its model loaded on first use and kept for the process."""
        settings = self._settings()
        key = (
            "translator", self.provider, self.model, self.models_dir, self.sidecar_dir,
            self.device, self.threads, self.base_url, self.llm_model, self.api_key,
            self.timeout_s, self.retry_s, self.batch_size, self.schema_style,
        )  # fmt: skip
        return _once(key, lambda: create_translator(settings))


class SynthesizerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Speech synthesis of the dub lines (``TTS_PROVIDER``; for ``http``: ``TTS_HTTP_URL``,
    ``TTS_HTTP_API_KEY``, timeouts and the service's voice model)."""

    provider: str
    http_url: str | None = None
    http_api_key: str | None = None
    http_timeout_s: float = 60.0
    http_retry_s: float = 60.0
    http_voice: str = "remote-voice"

    def get(self) -> Synthesizer:
        """The synthesizer (built on first use, kept for the process)."""
        settings = get_settings().model_copy(
            update={
                "tts_provider": self.provider,
                "tts_http_url": self.http_url,
                "tts_http_api_key": SecretStr(self.http_api_key) if self.http_api_key else None,
                "tts_http_timeout_s": self.http_timeout_s,
                "tts_http_retry_s": self.http_retry_s,
                "tts_http_voice": self.http_voice,
            }
        )
        key = (
            "synthesizer", self.provider, self.http_url, self.http_api_key,
            self.http_timeout_s, self.http_retry_s, self.http_voice,
        )  # fmt: skip
        return _once(key, lambda: create_synthesizer(settings))


class LipSyncResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The lip-sync engine (``LIPSYNC_PROVIDER``), an optional cap on its window length
    (``LIPSYNC_MAX_WINDOW_S``) and where each engine call is logged (``LIPSYNC_CALL_LOG``)."""

    provider: str
    max_window_s: float | None = None
    call_log: str | None = None

    def planner(self) -> type[LipSyncer]:
        """The engine's class: enough to plan windows where the engine is not installed."""
        settings = get_settings().model_copy(update={"lipsync_provider": self.provider})
        return lipsyncer_class(settings)

    def tuning(self, preset: str | None) -> Tuning:
        """The preset's tuning for this engine, its window maximum capped by ``max_window_s``."""
        engine = self.planner()
        tuning = resolve(preset, engine.name, engine.max_window_s)
        if self.max_window_s is None or self.max_window_s >= tuning.max_window_s:
            return tuning
        return tuning.model_copy(update={"max_window_s": self.max_window_s})

    def get(self) -> LipSyncer:
        """The engine (built on first use, kept for the process)."""
        settings = get_settings().model_copy(update={"lipsync_provider": self.provider})
        return _once(("lipsyncer", self.provider), lambda: create_lipsyncer(settings))


def _secret(value: str | None, variable: str, *, from_env: bool) -> str | None:
    """A secret for a resource field: in definitions, the variable (the UI shows its name, not
    its value); outside Dagster, the value itself."""
    if value is None:
        return None
    return cast(str, dg.EnvVar(variable)) if from_env else value


def build_resources(settings: Settings, *, secrets_from_env: bool = False) -> dict[str, Any]:
    """Every resource the assets, sensors and the CLI use, configured from ``settings``."""
    secret = settings.azure_storage_connection_string
    models = str(settings.resolved_models_dir)
    return {
        "storage": StorageResource(
            storage_type=settings.storage_type,
            local_root=str(settings.storage_root),
            scratch_dir=str(settings.data_dir / "work"),
            azure_container=settings.azure_storage_container,
            azure_account_url=settings.azure_storage_account_url,
            azure_connection_string=_secret(
                secret.get_secret_value() if secret else None,
                "AZURE_STORAGE_CONNECTION_STRING",
                from_env=secrets_from_env,
            ),
        ),
        "pipeline": PipelineResource(
            min_duration_s=settings.min_duration_s,
            max_duration_s=settings.max_duration_s,
            max_upload_bytes=settings.max_upload_bytes,
            loudness_target_lufs=settings.loudness_target_lufs,
            review_policy=settings.review_policy,
            review_transcript=settings.review_transcript,
            upload_targets=[
                code.strip().lower() for code in settings.upload_targets.split(",") if code.strip()
            ],
        ),
        "separator": SeparatorResource(provider=settings.separator_provider),
        "transcriber": TranscriberResource(
            provider=settings.stt_provider,
            model=settings.stt_model,
            device=settings.whisper_device,
            threads=settings.whisper_threads,
            models_dir=models,
        ),
        "diarizer": DiarizerResource(
            provider=settings.diarizer_provider,
            speakers=settings.diarizer_speakers,
            pyannote_model_dir=str(settings.pyannote_model_dir)
            if settings.pyannote_model_dir
            else None,
        ),
        "translator": TranslatorResource(
            provider=settings.translator_provider,
            model=settings.translation_model,
            models_dir=models,
            sidecar_dir=str(settings.sidecar_dir or settings.data_dir / "sidecars"),
            device=settings.whisper_device,
            threads=settings.whisper_threads,
            base_url=settings.translator_base_url,
            llm_model=settings.translator_model,
            api_key=_secret(
                key.get_secret_value() if (key := settings.translator_api_key) else None,
                "TRANSLATOR_API_KEY",
                from_env=secrets_from_env,
            ),
            timeout_s=settings.translator_timeout_s,
            retry_s=settings.translator_retry_s,
            batch_size=settings.translator_batch_size,
            schema_style=settings.translator_schema_style,
        ),
        "synthesizer": SynthesizerResource(
            provider=settings.tts_provider,
            http_url=settings.tts_http_url,
            http_api_key=_secret(
                key.get_secret_value() if (key := settings.tts_http_api_key) else None,
                "TTS_HTTP_API_KEY",
                from_env=secrets_from_env,
            ),
            http_timeout_s=settings.tts_http_timeout_s,
            http_retry_s=settings.tts_http_retry_s,
            http_voice=settings.tts_http_voice,
        ),
        "lipsyncer": LipSyncResource(
            provider=settings.lipsync_provider,
            max_window_s=settings.lipsync_max_window_s,
            call_log=str(settings.lipsync_call_log) if settings.lipsync_call_log else None,
        ),
    }


@dataclass(frozen=True)
class Toolkit:
    """The resources as the CLI uses them outside a run (registration, status, reports)."""

    settings: Settings
    resources: Mapping[str, Any]

    @property
    def storage(self) -> StorageBackend:
        """The storage backend."""
        return cast(StorageResource, self.resources["storage"]).backend()

    @property
    def workspace(self) -> Workspace:
        """Local working copies of stored objects."""
        return cast(StorageResource, self.resources["storage"]).workspace()

    @property
    def transcriber(self) -> Transcriber:
        """The transcriber (language detection at registration)."""
        return cast(TranscriberResource, self.resources["transcriber"]).get()

    @property
    def translator(self) -> Translator:
        """The translator (which targets it can produce)."""
        return cast(TranslatorResource, self.resources["translator"]).get()


def toolkit(settings: Settings | None = None, **overrides: Any) -> Toolkit:
    """The CLI's toolkit for ``settings`` (this process's by default), resources overridable."""
    settings = settings or get_settings()
    return Toolkit(settings, {**build_resources(settings), **overrides})


def pool_for(layer: str) -> str | None:
    """The concurrency pool of a step, from its provider's registry entry: ``gpu`` for
    providers on the node's GPU (Whisper too, on ``WHISPER_DEVICE=cuda``), a service's name
    for remote ones, none for CPU work."""
    settings = get_settings()
    registry, chosen = {
        "separation": (SEPARATORS, settings.separator_provider),
        "transcription": (TRANSCRIBERS, settings.stt_provider),
        "translation": (TRANSLATORS, settings.translator_provider),
        "synthesis": (SYNTHESIZERS, settings.tts_provider),
        "lipsync": (LIPSYNCERS, settings.lipsync_provider),
    }[layer]
    whisper = layer == "transcription" or chosen == "whisper"
    if whisper and settings.whisper_device == "cuda":
        return "gpu"
    if layer == "transcription" and pool_of(DIARIZERS, settings.diarizer_provider) == "gpu":
        return "gpu"  # the transcript step also diarizes
    return pool_of(registry, chosen)


def queue_tags_for(layer: str) -> dict[str, str]:
    """The Celery queue of a step of ``layer``: ``gpu`` with its pool, else ``cpu``."""
    return queue_tags(pool_for(layer))
