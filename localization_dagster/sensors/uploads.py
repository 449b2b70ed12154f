"""The upload sensor: a new or re-uploaded file under ``uploads/`` registers its video and
requests its ``source_video`` run (run key = video id + content version), exactly once."""

import dagster as dg

from localization_core.catalog import VideoRecord, record_for_upload, request_targets
from localization_core.errors import LocalizationError
from localization_core.storage import StorageBackend
from localization_dagster.partitions import languages, latest_materialization, videos
from localization_dagster.resources import PipelineResource, StorageResource

SOURCE_VIDEO = dg.AssetKey("source_video")


def ingested_version(instance: dg.DagsterInstance, video: str) -> str | None:
    """The content version of the latest ``source_video`` materialization of ``video``."""
    record = latest_materialization(instance, "source_video", video)
    if record is None or record.asset_materialization is None:
        return None
    version = record.asset_materialization.metadata.get("version")
    return str(version.value) if version is not None else None


def requests_for_uploads(
    instance: dg.DagsterInstance, storage: StorageBackend, targets: list[str] | None = None
) -> tuple[list[dg.RunRequest], list[VideoRecord], list[str]]:
    """Run requests for uploads not yet ingested at their current version, the records
    registered on the way (a new one requests ``targets``), and one line per upload that could
    not be registered."""
    requests: list[dg.RunRequest] = []
    records: list[VideoRecord] = []
    problems: list[str] = []
    for info in storage.list("uploads/"):
        try:
            record, _ = record_for_upload(storage, info)
            if targets and not record.targets:
                record = request_targets(storage, record.video_id, targets)
        except LocalizationError as exc:
            problems.append(f"{info.key}: {exc}")
            continue
        records.append(record)
        if ingested_version(instance, record.video_id) == record.version:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{record.video_id}:{record.version}",
                partition_key=record.video_id,
                asset_selection=[SOURCE_VIDEO],
                tags={"localize/trigger": "upload"},
            )
        )
    return requests, records, problems


def build_upload_sensor(interval_s: int) -> dg.SensorDefinition:
    """The sensor, polling storage every ``interval_s`` seconds (RUNNING by default)."""

    @dg.sensor(
        name="uploads_sensor",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=[SOURCE_VIDEO],
        description=(
            "Registers each new or re-uploaded file under uploads/ in storage and starts its "
            "source_video once per content version; unreadable names are logged, not retried."
        ),
    )
    def uploads_sensor(
        context: dg.SensorEvaluationContext, storage: StorageResource, pipeline: PipelineResource
    ) -> dg.SensorResult:
        targets = pipeline.upload_targets
        requests, records, problems = requests_for_uploads(
            context.instance, storage.backend(), targets
        )
        for problem in problems:
            context.log.warning(problem)
        known = set(context.instance.get_dynamic_partitions(videos.name or "videos"))
        new = sorted({r.video_id for r in records} - known)
        partition_requests = [videos.build_add_request(new)] if new else []
        known_langs = set(context.instance.get_dynamic_partitions(languages.name or "languages"))
        new_langs = sorted(set(targets) - known_langs)
        if new_langs:
            partition_requests.append(languages.build_add_request(new_langs))
        return dg.SensorResult(
            run_requests=requests, dynamic_partitions_requests=partition_requests
        )

    return uploads_sensor
