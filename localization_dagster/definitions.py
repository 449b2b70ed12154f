"""The code location: every asset, resource, sensor and executor the UI and daemon load."""

from functools import lru_cache
from typing import Any

import dagster as dg

from localization_core.settings import Settings, get_settings
from localization_dagster.assets import LOCALIZATION_LEVEL, VIDEO_LEVEL
from localization_dagster.automation import build_automation_sensor
from localization_dagster.autostop import autostop_resources
from localization_dagster.io import JsonArtifactIOManager
from localization_dagster.resources import build_resources
from localization_dagster.retention import RETENTION_SCHEDULE, retention_job
from localization_dagster.sensors.alerts import build_alert_sensor
from localization_dagster.sensors.autostop import autostop_sensors
from localization_dagster.sensors.catalog import build_catalog_sensor
from localization_dagster.sensors.edits import build_edits_sensor
from localization_dagster.sensors.requests import build_request_sensor
from localization_dagster.sensors.uploads import build_upload_sensor
from localization_dagster.workers import celery_executor

VIDEO_ASSETS = list(VIDEO_LEVEL)
LOCALIZATION_ASSETS = list(LOCALIZATION_LEVEL)


# One job per partitioning (runs cannot mix them): the UI's partition sets and backfills,
# and what the CLI executes in-process.
VIDEO_JOB = dg.define_asset_job(
    "video_stages",
    selection=[a.key for a in VIDEO_ASSETS],
    description="The stages of one video, in any language: probe and copy the upload, separate "
    "speech from background, transcribe, and find where a usable face is visible.",
)
LOCALIZATION_JOB = dg.define_asset_job(
    "localization_stages",
    selection=[a.key for a in LOCALIZATION_ASSETS],
    description="The stages of one (video, language) pair: translate, review, dub, plan and run "
    "the lip-sync, and deliver the mp4, subtitles and QA report.",
)


def _executor(settings: Settings) -> dg.ExecutorDefinition:
    """In-process by default (laptop, CI); multiprocess or Celery when configured."""
    if settings.executor == "celery":
        return celery_executor()
    if settings.executor == "multiprocess" and settings.max_concurrent_steps:
        return dg.multiprocess_executor.configured(
            {"max_concurrent": settings.max_concurrent_steps}
        )
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    return dg.in_process_executor


def _resources(settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
    """The resources of the code location; the IO manager stores through the storage one."""
    resources = {
        **build_resources(settings, secrets_from_env=True),
        **autostop_resources(settings),
        **overrides,
    }
    return {**resources, "io_manager": JsonArtifactIOManager(storage=resources["storage"])}


def build_definitions(settings: Settings | None = None, **overrides: Any) -> dg.Definitions:
    """The definitions for ``settings`` (this process's by default); ``overrides`` replace
    resources by key (a test's fake provider)."""
    settings = settings or get_settings()
    return dg.Definitions(
        assets=[*VIDEO_ASSETS, *LOCALIZATION_ASSETS],
        jobs=[VIDEO_JOB, LOCALIZATION_JOB, retention_job],
        schedules=[RETENTION_SCHEDULE],
        resources=_resources(settings, overrides),
        sensors=[
            build_upload_sensor(settings.sensor_interval_s, settings.list_page_size),
            build_automation_sensor(settings.automation_interval_s),
            build_request_sensor(settings.sensor_interval_s),
            build_edits_sensor(settings.sensor_interval_s),
            build_catalog_sensor(
                settings.sensor_interval_s, settings.catalog_pairs_per_tick, settings.list_page_size
            ),
            build_alert_sensor(settings),
            *autostop_sensors(settings),
        ],
        executor=_executor(settings),
    )


def video_stages() -> dg.JobDefinition:
    """The video-level job as this process's settings define it: a reconstructable target, so
    an out-of-process executor's workers (Celery) rebuild the same job by name."""
    return current().resolve_job_def("video_stages")


def localization_stages() -> dg.JobDefinition:
    """The (video, language) job as this process's settings define it (reconstructable)."""
    return current().resolve_job_def("localization_stages")


@lru_cache(maxsize=8)
def _definitions_for(settings: Settings) -> dg.Definitions:
    return build_definitions(settings)


def current() -> dg.Definitions:
    """The definitions bound to this process's settings as they are now: what the CLI and the
    tests execute (``defs`` keeps the settings of the moment the code location loaded)."""
    return _definitions_for(get_settings())


defs = build_definitions()
