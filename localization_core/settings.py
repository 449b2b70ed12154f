"""Process-wide settings from environment variables (names of DESIGN section 5), read once."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# where `make setup` installs the packaged models: inside the Python environment, like the
# wheels they come from, so they belong to the installation and not to one data dir
INSTALLED_MODELS = Path(sys.prefix) / "share" / "localization" / "models"


class Settings(BaseSettings):
    """Provider choices, storage and model locations; every field maps to one env variable.

    ``GPU_PRICE_PER_HOUR`` (USD, default 0.0: not priced) is what one hour of a GPU node costs
    you, e.g. the hourly price of the Terraform GPU node (Standard_NC8as_T4_v3) in your region
    and billing model (spot is cheaper than pay-as-you-go). Each localization's report prices
    its GPU-seconds with it: ``estimated_cost_usd = gpu_seconds / 3600 * GPU_PRICE_PER_HOUR``.
    The default is 0 rather than a list price because prices differ by region, billing model
    and date, and a made-up figure would read as a real one.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    separator_provider: str = Field("auto", alias="SEPARATOR_PROVIDER")
    stt_provider: str = Field("faster_whisper", alias="STT_PROVIDER")
    diarizer_provider: str = Field("single", alias="DIARIZER_PROVIDER")
    # a fixed speaker count for every video (0: the diarizer decides)
    diarizer_speakers: int = Field(0, alias="DIARIZER_SPEAKERS", ge=0, le=20)
    # pyannote's pipeline folder (config.yaml and the weights it names), filled on the GPU node
    pyannote_model_dir: Path | None = Field(None, alias="PYANNOTE_MODEL_DIR")
    translator_provider: str = Field("whisper", alias="TRANSLATOR_PROVIDER")
    tts_provider: str = Field("piper", alias="TTS_PROVIDER")
    lipsync_provider: str = Field("dub_only", alias="LIPSYNC_PROVIDER")
    # a lower window maximum than the preset's (a node with less RAM than the engine's sizing)
    lipsync_max_window_s: float | None = Field(None, alias="LIPSYNC_MAX_WINDOW_S", ge=1.28)
    # one JSON line per engine call (window, span, frames, outcome): which windows used the GPU
    lipsync_call_log: Path | None = Field(None, alias="LIPSYNC_CALL_LOG")
    # the GPU engines' installs on a GPU node: checkout, its Python, weights and version
    latentsync_dir: Path | None = Field(None, alias="LATENTSYNC_DIR")
    latentsync_python: Path | None = Field(None, alias="LATENTSYNC_PYTHON")
    latentsync_checkpoints: Path | None = Field(None, alias="LATENTSYNC_CHECKPOINTS")
    latentsync_version: str | None = Field(None, alias="LATENTSYNC_VERSION")
    musetalk_dir: Path | None = Field(None, alias="MUSETALK_DIR")
    musetalk_python: Path | None = Field(None, alias="MUSETALK_PYTHON")
    musetalk_checkpoints: Path | None = Field(None, alias="MUSETALK_CHECKPOINTS")
    musetalk_version: str | None = Field(None, alias="MUSETALK_VERSION")
    # the `demucs` separator: a folder with the model's bag (htdemucs.yaml) and .th weights
    demucs_model_dir: Path | None = Field(None, alias="DEMUCS_MODEL_DIR")
    demucs_model: str = Field("htdemucs", alias="DEMUCS_MODEL")
    demucs_device: Literal["auto", "cpu", "cuda"] = Field("auto", alias="DEMUCS_DEVICE")
    storage_type: Literal["local", "azure_blob"] = Field("local", alias="STORAGE_TYPE")

    data_dir: Path = Field(Path("data"), alias="LOCALIZATION_DATA_DIR")
    models_dir: Path | None = Field(None, alias="LOCALIZATION_MODELS_DIR")
    stt_model: str = Field("base", alias="STT_MODEL")
    translation_model: str = Field("base", alias="TRANSLATION_MODEL")
    sidecar_dir: Path | None = Field(None, alias="SIDECAR_DIR")
    # the `openai` translator: any OpenAI-compatible chat endpoint (vLLM, llama.cpp's server);
    # without a base URL, `localize` serves the packaged CPU model itself (llm_server)
    translator_base_url: str | None = Field(None, alias="TRANSLATOR_BASE_URL")
    translator_model: str = Field("qwen2.5-coder-1.5b-instruct", alias="TRANSLATOR_MODEL")
    translator_api_key: SecretStr | None = Field(None, alias="TRANSLATOR_API_KEY")
    translator_timeout_s: float = Field(120.0, alias="TRANSLATOR_TIMEOUT_S", gt=0)
    translator_retry_s: float = Field(60.0, alias="TRANSLATOR_RETRY_S", ge=0)
    translator_batch_size: int = Field(8, alias="TRANSLATOR_BATCH_SIZE", ge=1)
    # how the endpoint takes a JSON schema: OpenAI/vLLM/llama-server's `json_schema`, or
    # llama-cpp-python's `json_object` (chosen by itself for the local server)
    translator_schema_style: Literal["json_schema", "json_object"] = Field(
        "json_schema", alias="TRANSLATOR_SCHEMA_STYLE"
    )
    llm_threads: int = Field(2, alias="LLM_THREADS", ge=1)
    # the `http` synthesizer: a voice-cloning service speaking the README's TTS contract
    tts_http_url: str | None = Field(None, alias="TTS_HTTP_URL")
    tts_http_api_key: SecretStr | None = Field(None, alias="TTS_HTTP_API_KEY")
    tts_http_timeout_s: float = Field(60.0, alias="TTS_HTTP_TIMEOUT_S", gt=0)
    tts_http_retry_s: float = Field(60.0, alias="TTS_HTTP_RETRY_S", ge=0)
    # the service's model, part of every cached line's key (a new model re-synthesizes)
    tts_http_voice: str = Field("remote-voice", alias="TTS_HTTP_VOICE")
    whisper_device: Literal["cpu", "cuda"] = Field("cpu", alias="WHISPER_DEVICE")
    whisper_threads: int = Field(2, alias="WHISPER_THREADS", ge=1)

    azure_storage_connection_string: SecretStr | None = Field(
        None, alias="AZURE_STORAGE_CONNECTION_STRING"
    )
    azure_storage_account_url: str | None = Field(None, alias="AZURE_STORAGE_ACCOUNT_URL")
    azure_storage_container: str = Field("localization", alias="AZURE_STORAGE_CONTAINER")

    executor: Literal["in_process", "multiprocess", "celery"] = Field(
        "in_process", alias="LOCALIZATION_EXECUTOR"
    )
    # multiprocess: steps at once (0: one per core); 1 gives each step the machine to itself
    max_concurrent_steps: int = Field(0, alias="MAX_CONCURRENT_STEPS", ge=0)
    sensor_interval_s: int = Field(30, alias="SENSOR_INTERVAL_S", ge=1)
    automation_interval_s: int = Field(30, alias="AUTOMATION_INTERVAL_S", ge=1)

    # the languages a file dropped under uploads/ is localized into (comma separated; none by
    # default: an upload is then registered and prepared, and `localize add ID --to` asks)
    upload_targets: str = Field("", alias="UPLOAD_TARGETS")

    # operations at catalog scale (DESIGN section 6): the GPU node VMs the auto-stop/start
    # sensors power (comma separated names in one resource group), when an idle one stops
    # (no GPU step for the idle window, and on for at least the minimum on-time)
    gpu_vms: str = Field("", alias="GPU_VMS")
    azure_subscription_id: str | None = Field(None, alias="AZURE_SUBSCRIPTION_ID")
    azure_resource_group: str | None = Field(None, alias="AZURE_RESOURCE_GROUP")
    azure_arm_endpoint: str = Field("https://management.azure.com", alias="AZURE_ARM_ENDPOINT")
    gpu_idle_window_s: float = Field(900.0, alias="GPU_IDLE_WINDOW_S", ge=0)
    gpu_min_on_s: float = Field(600.0, alias="GPU_MIN_ON_S", ge=0)
    # USD per GPU-node hour: prices the GPU-seconds in each report (see the class docstring)
    gpu_price_per_hour: float = Field(0.0, alias="GPU_PRICE_PER_HOUR", ge=0)
    # catalog manifests: at most this many (video, language) pairs requested per sensor tick
    catalog_pairs_per_tick: int = Field(50, alias="CATALOG_PAIRS_PER_TICK", ge=1)
    # objects per page when a sensor lists storage
    list_page_size: int = Field(500, alias="LIST_PAGE_SIZE", ge=1)
    # one message per failed localization to this webhook (may carry a token: a secret)
    alert_webhook_url: SecretStr | None = Field(None, alias="ALERT_WEBHOOK_URL")
    # where operators open the Dagster UI (links in alerts)
    ui_url: str = Field("http://localhost:3000", alias="DAGSTER_UI_URL")
    # the daily retention job deletes what no localization uses any more after this many days
    retention_days: int = Field(30, alias="RETENTION_DAYS", ge=1)

    loudness_target_lufs: float = Field(-16.0, alias="LOUDNESS_TARGET_LUFS", le=-5, ge=-40)
    # the review gate after translation for videos that do not choose: `auto` approves at once,
    # `required` holds each localization until a reviewer approves it (DESIGN section 9)
    review_policy: Literal["auto", "required"] = Field("auto", alias="REVIEW_POLICY")
    # a second gate before translation, for videos that do not choose: a reviewer approves (or
    # corrects) the transcript before any language is translated from it
    review_transcript: bool = Field(False, alias="REVIEW_TRANSCRIPT")

    # what a source may be; anything outside is refused at source_video with one line
    min_duration_s: float = Field(1.0, alias="MIN_DURATION_S", gt=0)
    max_duration_s: float = Field(4 * 3600.0, alias="MAX_DURATION_S", gt=0)
    max_upload_bytes: int = Field(50 * 1024**3, alias="MAX_UPLOAD_BYTES", gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def storage_root(self) -> Path:
        """Root of the `local` storage backend."""
        return self.data_dir / "storage"

    @property
    def resolved_models_dir(self) -> Path:
        """Directory holding one sub-directory per faster-whisper model: the installation's
        (``make setup`` joins them there), so any data dir finds them without a variable."""
        return (self.models_dir or INSTALLED_MODELS).expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings()
