"""Which asset partitions a run must materialize: the missing, the stale, the forced.

Dagster has no public per-partition staleness API; ``StaleChecker`` wraps the resolver the UI
itself uses (``CachingStaleStatusResolver``, behind GraphQL's ``staleStatusByPartition``), and a
test pins the two to the same answer. Dagster does not call a partition stale because an upstream
one *is* stale (only once the upstream has been re-materialized with a new data version), so
``plan`` adds everything downstream of a chosen asset to the run: a chain reruns from its first
out-of-date link, and Dagster's data versions keep the rest fresh when nothing really changed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from dagster._core.definitions.data_version import (
    DATA_VERSION_TAG,
    CachingStaleStatusResolver,
    StaleCause,
    StaleStatus,
)
from dagster._core.definitions.temporal_context import TemporalContext
from dagster._time import get_current_datetime

from localization_core.catalog import VideoRecord
from localization_core.review import ReviewState
from localization_dagster.partitions import latest_materialization
from localization_dagster.versions import source_data_version

Status = Literal["fresh", "stale", "missing"]
UNEDITED = ReviewState().edits_digest()


@dataclass(frozen=True)
class AssetState:
    """One asset partition: fresh, stale or missing, and why."""

    asset: str
    status: Status
    reason: str = ""


class StaleChecker:
    """Staleness of asset partitions as the Dagster UI reports it, for one moment in time."""

    def __init__(self, instance: dg.DagsterInstance, defs: dg.Definitions) -> None:
        self.instance = instance
        graph = self.graph = defs.resolve_asset_graph()
        view = AssetGraphView(
            temporal_context=TemporalContext(
                effective_dt=get_current_datetime(), last_event_id=None
            ),
            instance=instance,
            asset_graph=graph,
        )
        self.resolver = CachingStaleStatusResolver(instance, graph, view)

    def state(self, asset: str, partition: str) -> AssetState:
        """Dagster's status of one asset partition, with its first stale cause."""
        key = dg.AssetKey(asset)
        status = self.resolver.get_status(key, partition)
        if status == StaleStatus.MISSING:
            return AssetState(asset, "missing", "never materialized")
        if status == StaleStatus.STALE:
            causes = self.resolver.get_stale_root_causes(key, partition)
            return AssetState(asset, "stale", _describe(causes[0]) if causes else "stale")
        return AssetState(asset, "fresh")

    def data_version(self, asset: str, partition: str) -> str | None:
        """The data version of the latest materialization of one asset partition."""
        record = self.instance.get_latest_data_version_record(
            dg.AssetKey(asset), partition_key=partition
        )
        materialization = record.asset_materialization if record else None
        if materialization is None or materialization.tags is None:
            return None
        return materialization.tags.get(DATA_VERSION_TAG)


def _describe(cause: StaleCause) -> str:
    """``source_video has a new data version`` from a Dagster stale cause."""
    return f"{cause.key.asset_key.to_user_string()} {cause.reason}"


def _recorded(checker: StaleChecker, asset: str, partition: str, name: str) -> object:
    """The value of metadata entry ``name`` on the partition's latest materialization."""
    record = latest_materialization(checker.instance, asset, partition)
    shown = record.asset_materialization if record else None
    entry = shown.metadata.get(name) if shown else None
    return getattr(entry, "value", entry)


def source_state(checker: StaleChecker, record: VideoRecord) -> AssetState:
    """``source_video`` against the catalog: stale when the upload or its language changed."""
    state = checker.state("source_video", record.video_id)
    if state.status != "fresh":
        return state
    if checker.data_version("source_video", record.video_id) != source_data_version(record):
        return AssetState("source_video", "stale", "the upload or its source language changed")
    return state


def preset_state(
    checker: StaleChecker, state: AssetState, partition: str, preset: str
) -> AssetState:
    """``sync_plan`` against the video's preset: stale when the plan used another one."""
    if state.status != "fresh":
        return state
    used = _recorded(checker, "sync_plan", partition, "preset")
    if used is not None and used != preset:
        return AssetState("sync_plan", "stale", f"the preset changed to {preset}")
    return state


def glossary_state(
    checker: StaleChecker, state: AssetState, partition: str, digest: str
) -> AssetState:
    """``translation`` against the video's glossary: stale when it used another one."""
    if state.status != "fresh":
        return state
    used = _recorded(checker, "translation", partition, "glossary")
    if used not in (None, digest):
        return AssetState("translation", "stale", "the glossary changed")
    return state


def downstream(defs: dg.Definitions, asset: str) -> set[str]:
    """``asset`` and every asset that depends on it, directly or not."""
    graph = defs.resolve_asset_graph()
    found = {asset}
    pending = [asset]
    while pending:
        for child in graph.get(dg.AssetKey(pending.pop())).child_keys:
            name = child.to_user_string()
            if name not in found:
                found.add(name)
                pending.append(name)
    return found


def plan(checker: StaleChecker, states: Sequence[AssetState], forced: set[str]) -> list[str]:
    """The assets of ``states`` to materialize, in their order: every missing, stale or forced
    one and everything downstream of it among them."""
    names = [state.asset for state in states]
    due = {state.asset for state in states if state.status != "fresh"} | (forced & set(names))
    pending = list(due)
    while pending:
        for child in checker.graph.get(dg.AssetKey(pending.pop())).child_keys:
            name = child.to_user_string()
            if name in names and name not in due:
                due.add(name)
                pending.append(name)
    return [name for name in names if name in due]


def review_state(
    checker: StaleChecker, state: AssetState, partition: str, digest: str
) -> AssetState:
    """``translation_review`` against the pair's review state: stale when a reviewer approved or
    edited since it last materialized."""
    if state.status != "fresh":
        return state
    used = _recorded(checker, "translation_review", partition, "review")
    if used != digest:
        return AssetState("translation_review", "stale", "a reviewer approved or edited lines")
    return state


def burn_state(checker: StaleChecker, state: AssetState, partition: str, burn: bool) -> AssetState:
    """``localized_video`` against the video's burn-in choice: stale when it was made the other
    way."""
    if state.status != "fresh":
        return state
    used = _recorded(checker, "localized_video", partition, "burn_subtitles")
    if bool(used) != burn:
        return AssetState("localized_video", "stale", "the burn-in choice changed")
    return state


def transcript_review_state(
    checker: StaleChecker, state: AssetState, partition: str, digest: str
) -> AssetState:
    """``translation`` against the video's transcript review: stale when a reviewer edited the
    transcript (or approved it) since the translation was made."""
    if state.status != "fresh":
        return state
    used = _recorded(checker, "translation", partition, "transcript_review")
    # a translation made before transcript reviews existed translated the machine transcript
    if used != digest and not (used is None and digest == UNEDITED):
        return AssetState("translation", "stale", "a reviewer edited the transcript")
    return state
