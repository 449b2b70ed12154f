"""`localize status`: stage x partition as done, stale, failed, running or missing.

"Awaiting review" arrives with the review flow (DESIGN section 9); today's gate approves at once.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from localization_core.catalog import VideoRecord
from localization_dagster.freshness import StaleChecker, source_state
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


@dataclass(frozen=True)
class _Materialized:
    storage_id: int
    run_id: str


def _latest(instance: dg.DagsterInstance, asset: str, partition: str) -> _Materialized | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    return _Materialized(records[0].storage_id, records[0].run_id)


def _cached(
    instance: dg.DagsterInstance,
    asset: str,
    partition: str,
    seen: dict[tuple[str, str], _Materialized | None],
) -> _Materialized | None:
    if (asset, partition) not in seen:
        seen[asset, partition] = _latest(instance, asset, partition)
    return seen[asset, partition]


def _attempt(
    instance: dg.DagsterInstance, asset: str, partition: str, done: _Materialized | None
) -> StatusRow | None:
    """The row for a planned materialization newer than the last one, if any."""
    planned = instance.get_latest_planned_materialization_info(dg.AssetKey(asset), partition)
    if planned is None or (done is not None and planned.storage_id <= done.storage_id):
        return None
    run = instance.get_run_by_id(planned.run_id)
    if run is None:
        return None
    if run.status in ACTIVE:
        return StatusRow(partition, asset, "running", f"run {run.run_id[:8]}")
    if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return _failed_row(instance, run, asset, partition)
    return None


def _failed_row(
    instance: dg.DagsterInstance, run: dg.DagsterRun, asset: str, partition: str
) -> StatusRow:
    """``failed`` with stage and message for the failing asset; ``missing`` for the rest."""
    events = (
        entry.dagster_event
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        if entry.dagster_event is not None
    )
    failure = failure_of(events, run.run_id)
    if failure is None:
        return StatusRow(partition, asset, "failed", f"run {str(run.status.value).lower()}")
    if failure.stage != asset:
        return StatusRow(partition, asset, "missing", f"not run: {failure.stage} failed")
    return StatusRow(partition, asset, "failed", str(failure))


def _row(
    instance: dg.DagsterInstance,
    checker: StaleChecker,
    asset: str,
    partition: str,
    seen: dict[tuple[str, str], _Materialized | None],
) -> StatusRow:
    done = _cached(instance, asset, partition, seen)
    attempt = _attempt(instance, asset, partition, done)
    if attempt is not None:
        return attempt
    if done is None:
        return StatusRow(partition, asset, "missing", "")
    state = checker.state(asset, partition)
    if state.status == "stale":
        return StatusRow(partition, asset, "stale", state.reason)
    return StatusRow(partition, asset, "done", f"run {done.run_id[:8]}")


def _partitions(video: str, langs: Iterable[str]) -> list[str]:
    return [video, *(str(dg.MultiPartitionKey({"video": video, "lang": lang})) for lang in langs)]


def status_rows(
    instance: dg.DagsterInstance, defs: dg.Definitions, records: Sequence[VideoRecord]
) -> list[StatusRow]:
    """Every stage of every partition of ``records`` (each video in the languages requested for
    it): stale as Dagster's data versions say, and ``source_video`` also against the catalog."""
    checker = StaleChecker(instance, defs)
    seen: dict[tuple[str, str], _Materialized | None] = {}
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
                row = _row(instance, checker, asset, partition, seen)
                if asset == "source_video" and row.status == "done":
                    source = source_state(checker, record)
                    if source.status == "stale":
                        row = StatusRow(partition, asset, "stale", source.reason)
                rows.append(row)
    return rows
