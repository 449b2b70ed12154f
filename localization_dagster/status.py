"""`localize status`: stage x partition as done, stale, failed, running or missing.

"Awaiting review" arrives with the review flow (DESIGN section 9); today's gate approves at once.
"""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from localization_dagster.partitions import languages
from localization_dagster.runner import (
    LOCALIZATION_ASSETS,
    VIDEO_ASSETS,
    failure_of,
)

ACTIVE = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
}


@functools.cache
def upstream_of(asset: str) -> tuple[str, ...]:
    """The assets ``asset`` reads, from the asset graph itself."""
    from localization_dagster.definitions import defs

    node = defs.resolve_asset_graph().get(dg.AssetKey(asset))
    return tuple(sorted(key.to_user_string() for key in node.parent_keys))


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
    asset: str,
    partition: str,
    upstream: dict[str, str],
    seen: dict[tuple[str, str], _Materialized | None],
) -> StatusRow:
    done = _cached(instance, asset, partition, seen)
    attempt = _attempt(instance, asset, partition, done)
    if attempt is not None:
        return attempt
    if done is None:
        return StatusRow(partition, asset, "missing", "")
    for parent in upstream_of(asset):
        parent_partition = upstream[parent]
        parent_done = _cached(instance, parent, parent_partition, seen)
        if parent_done is not None and parent_done.storage_id > done.storage_id:
            return StatusRow(partition, asset, "stale", f"{parent} changed since")
    return StatusRow(partition, asset, "done", f"run {done.run_id[:8]}")


def _partitions(video: str, langs: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    keys = [(video, dict.fromkeys(VIDEO_ASSETS, video))]
    for lang in langs:
        key = str(dg.MultiPartitionKey({"video": video, "lang": lang}))
        keys.append(
            (key, {**dict.fromkeys(VIDEO_ASSETS, video), **dict.fromkeys(LOCALIZATION_ASSETS, key)})
        )
    return keys


def status_rows(instance: dg.DagsterInstance, videos: Sequence[str]) -> list[StatusRow]:
    """Every stage of every partition of ``videos`` (each video in every registered language)."""
    langs = instance.get_dynamic_partitions(languages.name or "languages")
    seen: dict[tuple[str, str], _Materialized | None] = {}
    rows: list[StatusRow] = []
    for video in videos:
        for partition, upstream in _partitions(video, langs):
            stages = VIDEO_ASSETS if partition == video else LOCALIZATION_ASSETS
            rows.extend(_row(instance, asset, partition, upstream, seen) for asset in stages)
    return rows
