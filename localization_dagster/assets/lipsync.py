"""The lip-sync asset: a graph with one step per sync window, so each segment retries on its
own, shows in the run timeline, and "re-execute from failure" redoes only failed segments."""

from pathlib import Path
from typing import cast

import dagster as dg
from pydantic import Field

from localization_core.artifacts import (
    DubTrack,
    LipSync,
    SegmentResult,
    SourceVideo,
    SyncPlan,
    SyncWindow,
)
from localization_core.stages.lipsync import composite, sync_window
from localization_dagster.assets.common import (
    EAGER,
    language,
    localizations,
    stage,
    version_of,
    video_input,
)
from localization_dagster.resources import (
    LipSyncResource,
    StorageResource,
    pool_for,
    queue_tags_for,
)


class SegmentSelection(dg.Config):
    """Run config: force chosen segments to recompute (``segments: [3, 7]``, ``force: true``)."""

    segments: list[int] = Field(default_factory=list)
    force: bool = False


@dg.op(out=dg.DynamicOut(SyncWindow))
def plan_segments(sync_plan: SyncPlan) -> object:
    """One dynamic output per window; the mapping key is the segment index."""
    for window in sync_plan.windows:
        yield dg.DynamicOutput(window, mapping_key=str(window.index))


@dg.op(
    pool=pool_for("lipsync"),
    tags=queue_tags_for("lipsync"),
)
def sync_segment(
    context: dg.OpExecutionContext,
    config: SegmentSelection,
    window: SyncWindow,
    source_video: SourceVideo,
    dub_track: DubTrack,
    storage: StorageResource,
    lipsyncer: LipSyncResource,
) -> SegmentResult:
    """Lip-sync one window, or find its result in the segment store."""
    force = config.force and (not config.segments or window.index in config.segments)
    where = f"segment {window.index} [{window.start:.2f}-{window.end:.2f} s]"
    with stage("lipsync", where):
        result = sync_window(
            storage.workspace(),
            source=source_video,
            dub=dub_track,
            window=window,
            engine=lipsyncer.get(),
            force=force,
            call_log=Path(lipsyncer.call_log) if lipsyncer.call_log else None,
        )
    context.log.info(
        f"segment {window.index} [{window.start:.2f}-{window.end:.2f}] {result.status}"
    )
    return result


@dg.op
def collect_segments(
    context: dg.OpExecutionContext,
    segments: list[SegmentResult],
    source_video: SourceVideo,
    storage: StorageResource,
    lipsyncer: LipSyncResource,
) -> LipSync:
    """Composite the synced windows into the source picture and report every segment."""
    with stage("lipsync"):
        result = composite(
            storage.workspace(), source_video, language(context), segments, lipsyncer.get()
        )
    context.add_output_metadata(segment_metadata(result))
    return result


_COLUMNS = {
    "index": "int",
    "start": "float",
    "end": "float",
    "status": "string",
    "frames": "int",
    "engine_calls": "int",
    "engine_seconds": "float",
    "bisect_depth": "int",
    "dub_only_pieces": "int",
    "seconds": "float",
    "why_dub_only": "string",
    "cache_key": "string",
}


def segment_metadata(result: LipSync) -> dict[str, dg.MetadataValue | int | bool]:
    """The per-segment table (frames, engine seconds, bisect depth, fallbacks and why) and
    totals, as the asset page shows them."""
    records = [
        dg.TableRecord(
            {
                "index": s.index,
                "start": s.start,
                "end": s.end,
                "status": s.status,
                "frames": s.frames,
                "engine_calls": s.engine_calls,
                "engine_seconds": s.engine_seconds,
                "bisect_depth": s.bisect_depth,
                "dub_only_pieces": sum(not p.synced for p in s.pieces),
                "seconds": s.seconds,
                "why_dub_only": s.fallback_reasons,
                "cache_key": s.cache_key[:16],
            }
        )
        for s in result.segments
    ]
    schema = dg.TableSchema(columns=[dg.TableColumn(n, t) for n, t in _COLUMNS.items()])
    return {
        "segments": dg.MetadataValue.table(records=records, schema=schema),
        "engine_calls": sum(s.engine_calls for s in result.segments if s.status != "cached"),
        "engine_failures": sum(s.engine_failures for s in result.segments if s.status != "cached"),
        "cached": sum(s.status == "cached" for s in result.segments),
        "composited": result.composited,
    }


@dg.graph_asset(
    partitions_def=localizations,
    group_name="localization",
    automation_condition=EAGER,
    ins={"source_video": video_input()},
    code_version=version_of("lipsync"),
)
def lipsync(source_video: SourceVideo, dub_track: DubTrack, sync_plan: SyncPlan) -> LipSync:
    """Per-window lip-sync through the segment store, then the composited picture."""
    windows = plan_segments(sync_plan)
    results = windows.map(
        lambda window: sync_segment(window=window, source_video=source_video, dub_track=dub_track)
    )
    composited = collect_segments(segments=results.collect(), source_video=source_video)
    return cast(LipSync, composited)
