"""The upload sensor: a new or re-uploaded file under ``uploads/`` registers its video and
requests its ``source_video`` run (run key = video id + content version), exactly once."""

import dagster as dg

from localization_core.catalog import VideoRecord, record_for_upload
from localization_core.errors import LocalizationError
from localization_core.storage import StorageBackend
from localization_dagster.partitions import videos
from localization_dagster.resources import StorageResource

SOURCE_VIDEO = dg.AssetKey("source_video")


def ingested_version(instance: dg.DagsterInstance, video: str) -> str | None:
    """The content version of the latest ``source_video`` materialization of ``video``."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=SOURCE_VIDEO, asset_partitions=[video]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    version = records[0].asset_materialization.metadata.get("version")
    return str(version.value) if version is not None else None


def requests_for_uploads(
    instance: dg.DagsterInstance, storage: StorageBackend
) -> tuple[list[dg.RunRequest], list[VideoRecord], list[str]]:
    """Run requests for uploads not yet ingested at their current version, the records
    registered on the way, and one line per upload that could not be registered."""
    requests: list[dg.RunRequest] = []
    records: list[VideoRecord] = []
    problems: list[str] = []
    for info in storage.list("uploads/"):
        try:
            record, _ = record_for_upload(storage, info)
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
    )
    def uploads_sensor(
        context: dg.SensorEvaluationContext, storage: StorageResource
    ) -> dg.SensorResult:
        requests, records, problems = requests_for_uploads(context.instance, storage.backend())
        for problem in problems:
            context.log.warning(problem)
        known = set(context.instance.get_dynamic_partitions(videos.name or "videos"))
        new = sorted({r.video_id for r in records} - known)
        partition_requests = [videos.build_add_request(new)] if new else []
        return dg.SensorResult(
            run_requests=requests, dynamic_partitions_requests=partition_requests
        )

    return uploads_sensor
