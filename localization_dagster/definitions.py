"""The code location: every asset, resource, sensor and executor the UI and daemon load."""

import dagster as dg

from localization_core.settings import get_settings
from localization_dagster.assets import localization, video
from localization_dagster.assets.lipsync import lipsync
from localization_dagster.automation import build_automation_sensor
from localization_dagster.io import JsonArtifactIOManager
from localization_dagster.resources import LocalizationResource
from localization_dagster.sensors.uploads import build_upload_sensor

VIDEO_ASSETS = [video.source_video, video.stems, video.transcript, video.face_track]
LOCALIZATION_ASSETS = [
    localization.translation,
    localization.translation_review,
    localization.dub_track,
    localization.sync_plan,
    lipsync,
    localization.localized_video,
]


# One job per partitioning (runs cannot mix them): the UI's partition sets and backfills,
# and what the CLI executes in-process.
VIDEO_JOB = dg.define_asset_job("video_stages", selection=[a.key for a in VIDEO_ASSETS])
LOCALIZATION_JOB = dg.define_asset_job(
    "localization_stages", selection=[a.key for a in LOCALIZATION_ASSETS]
)


def _executor() -> dg.ExecutorDefinition:
    """In-process by default (laptop, CI); multiprocess or Celery when configured."""
    choice = get_settings().executor
    if choice == "celery":  # pragma: no cover - production multi-node only
        from dagster_celery import celery_executor

        return celery_executor
    if choice == "multiprocess":
        return dg.multiprocess_executor
    return dg.in_process_executor


def build_definitions() -> dg.Definitions:
    """The definitions for the current settings."""
    settings = get_settings()
    return dg.Definitions(
        assets=[*VIDEO_ASSETS, *LOCALIZATION_ASSETS],
        jobs=[VIDEO_JOB, LOCALIZATION_JOB],
        resources={
            "localization": LocalizationResource(),
            "io_manager": JsonArtifactIOManager(),
        },
        sensors=[
            build_upload_sensor(settings.sensor_interval_s),
            build_automation_sensor(settings.automation_interval_s),
        ],
        executor=_executor(),
    )


defs = build_definitions()
