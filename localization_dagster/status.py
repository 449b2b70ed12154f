"""`localize status`: stage x partition as done, stale, failed, running, missing, or awaiting
review (the gate of a pair whose translation a reviewer has not approved yet)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from localization_core.catalog import VideoRecord
from localization_core.errors import LocalizationError
from localization_core.storage.base import StorageBackend
from localization_dagster.freshness import StaleChecker, source_state
from localization_dagster.partitions import latest_materialization, localizations, videos
from localization_dagster.review import gate_of, transcript_gate_of
from localization_dagster.runner import (
    LOCALIZATION_ASSETS,
    VIDEO_ASSETS,
    failure_of,
)
from localization_dagster.sensors.requests import transcribed

ACTIVE = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
}


@dataclass(frozen=True)
class StatusRow:
    """One asset partition as the CLI shows it."""

    partition: str
    stage: str
    status: str
    detail: str


def _status(instance: dg.DagsterInstance, asset: str, partition: str) -> str:
    """Dagster's own status of one asset partition: materialized, failed, in_progress or
    missing (``get_status_by_partition``, what the UI's partition bars show)."""
    definition = videos if partition.count("|") == 0 else localizations
    found = instance.get_status_by_partition(dg.AssetKey(asset), [partition], definition) or {}
    status = found.get(partition)
    return status.value.lower() if status is not None else "missing"


def _latest_run(
    instance: dg.DagsterInstance, partition: str, statuses: Sequence[dg.DagsterRunStatus]
) -> dg.DagsterRun | None:
    records = instance.get_run_records(
        dg.RunsFilter(tags={"dagster/partition": partition}, statuses=list(statuses)), limit=1
    )
    return records[0].dagster_run if records else None


def _failed_row(instance: dg.DagsterInstance, asset: str, partition: str) -> StatusRow:
    """``failed`` with stage and message for the failing asset; ``missing`` for the stages the
    failed run never reached (the UI marks those failed too)."""
    run = _latest_run(instance, partition, [dg.DagsterRunStatus.FAILURE])
    if run is None:
        return StatusRow(partition, asset, "failed", "")
    events = (
        entry.dagster_event
        for entry in instance.all_logs(
            run.run_id,
            of_type={
                dg.DagsterEventType.STEP_FAILURE,
                dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            },
        )
        if entry.dagster_event is not None
    )
    failure = failure_of(events, run.run_id)
    if failure is None:
        return StatusRow(partition, asset, "failed", f"run {str(run.status.value).lower()}")
    if failure.stage != asset:
        return StatusRow(partition, asset, "missing", f"not run: {failure.stage} failed")
    return StatusRow(partition, asset, "failed", str(failure))


def _row(
    instance: dg.DagsterInstance, checker: StaleChecker, asset: str, partition: str
) -> StatusRow:
    status = _status(instance, asset, partition)
    if status == "in_progress":
        run = _latest_run(instance, partition, sorted(ACTIVE, key=str))
        return StatusRow(partition, asset, "running", f"run {run.run_id[:8]}" if run else "")
    if status == "failed":
        return _failed_row(instance, asset, partition)
    if status == "missing":
        return StatusRow(partition, asset, "missing", "")
    state = checker.state(asset, partition)
    if state.status == "stale":
        return StatusRow(partition, asset, "stale", state.reason)
    record = latest_materialization(instance, asset, partition)
    return StatusRow(partition, asset, "done", f"run {record.run_id[:8]}" if record else "")


def _partitions(video: str, langs: Iterable[str]) -> list[str]:
    return [video, *(str(dg.MultiPartitionKey({"video": video, "lang": lang})) for lang in langs)]


def _awaiting(storage: StorageBackend, partition: str, policy: str) -> StatusRow | None:
    """The gate's row when the pair's translation awaits a reviewer's approval."""
    lang, video = partition.split("|", maxsplit=1)
    try:
        status = gate_of(storage, video, lang, policy)
    except LocalizationError:
        return None
    if status == "approved":
        return None
    how = f"localize approve {video} --to {lang}"
    return StatusRow(partition, "translation_review", "awaiting review", how)


def _awaiting_transcript(
    storage: StorageBackend, partition: str, required: bool
) -> StatusRow | None:
    """The translation's row when the video's transcript awaits a reviewer's approval."""
    video = partition.split("|", maxsplit=1)[1]
    try:
        status = transcript_gate_of(storage, video, required)
    except LocalizationError:
        return None
    if status == "approved":
        return None
    return StatusRow(
        partition,
        "translation",
        "awaiting review",
        f"transcript: localize approve {video} --transcript",
    )


def status_rows(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    records: Sequence[VideoRecord],
    storage: StorageBackend,
    *,
    default_policy: str = "auto",
    review_transcript: bool = False,
) -> list[StatusRow]:
    """Every stage of every partition of ``records`` (each video in the languages requested for
    it): stale as Dagster's data versions say, ``source_video`` also against the catalog and a
    pair's gate against its reviewers' approval."""
    checker = StaleChecker(instance, defs)
    rows: list[StatusRow] = []
    for record in records:
        transcript = transcribed(instance, record.video_id)
        spoken = transcript.language if transcript else record.source_language
        for target in (t for t in record.targets if t == spoken):
            key = str(dg.MultiPartitionKey({"video": record.video_id, "lang": target}))
            rows.append(StatusRow(key, "translation", "n/a", f"already in {target!r}"))
        wanted = [t for t in record.targets if t != spoken]
        for partition in _partitions(record.video_id, wanted):
            stages = VIDEO_ASSETS if partition == record.video_id else LOCALIZATION_ASSETS
            for asset in stages:
                row = _row(instance, checker, asset, partition)
                if asset == "translation" and row.status == "missing":
                    row = _awaiting_transcript(storage, partition, review_transcript) or row
                if asset == "translation_review" and row.status == "missing":
                    row = _awaiting(storage, partition, default_policy) or row
                if asset == "source_video" and row.status == "done":
                    source = source_state(checker, record)
                    if source.status == "stale":
                        row = StatusRow(partition, asset, "stale", source.reason)
                rows.append(row)
    return rows
