"""Asset checks: the quality rules a reviewer cares about, evaluated in the step that produces the
asset, with metadata that explains the result.

A blocking check that fails (ERROR) stops the later steps of its run, and automation waits for it
(``EAGER`` requires ``all_deps_blocking_checks_passed``), so a dub with too many failed lines is
never muxed into a delivery.
"""

import math
import warnings
from collections.abc import Iterable

import dagster as dg

from localization_core.artifacts import (
    DubTrack,
    LineFit,
    LocalizedVideo,
    SourceVideo,
    Stems,
    SyncPlan,
)
from localization_core.stages.dub_track import MAX_FAILED_SHARE, failed_share, over_failure_limit
from localization_core.timing import CHUNK_FRAMES, ENGINE_FPS, MAX_COMPRESS, MAX_STRETCH
from localization_dagster.partitions import localizations

SPEED_TOLERANCE = 1e-3

DUB = dg.AssetKey("dub_track")
DUB_CHECKS = [
    dg.AssetCheckSpec(
        "synthesis_failures",
        asset=DUB,
        blocking=True,
        description=f"At most {MAX_FAILED_SHARE:.0%} of the lines failed synthesis (blocking).",
    ),
    dg.AssetCheckSpec(
        "cut_lines",
        asset=DUB,
        description="No line was cut at the next one after every fit (a reviewer should look).",
    ),
    dg.AssetCheckSpec(
        "speed_limits",
        asset=DUB,
        description=f"Compressed at most {MAX_COMPRESS}x, stretched at most {MAX_STRETCH}x.",
    ),
]
STEMS_CHECKS = [
    dg.AssetCheckSpec(
        "separation",
        asset=dg.AssetKey("stems"),
        description="Speech and background were separated (not the degraded fallback).",
    )
]
SYNC_CHECKS = [
    dg.AssetCheckSpec(
        "sync_coverage",
        asset=dg.AssetKey("sync_plan"),
        description="Only speaking frames with a face go to the engine (no GPU time on silence "
        "or faceless frames); the share of speech covered is reported.",
    )
]
OUTPUT_CHECKS = [
    dg.AssetCheckSpec(
        "matches_source",
        asset=dg.AssetKey("localized_video"),
        description="The delivered video has the source picture's duration and frame count.",
    )
]

with warnings.catch_warnings():  # partitioned checks are a preview in Dagster
    warnings.simplefilter("ignore")
    REVIEW_CHECK = dg.AssetCheckSpec(
        "approved",
        asset=dg.AssetKey("translation_review"),
        # per pair: the gate has no materialization to hang its result on while it waits
        partitions_def=localizations,
        description="The translation is approved: at once under the auto policy, by a "
        "reviewer under required (a warning while the localization awaits review).",
    )


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    TRANSCRIPT_CHECK = dg.AssetCheckSpec(
        "transcript_approved",
        asset=dg.AssetKey("translation"),
        partitions_def=localizations,
        description="The transcript it translates is approved: at once unless the video asks "
        "for a transcript review (a warning while it awaits one).",
    )


def transcript_check(required: bool, status: str, video: str) -> dg.AssetCheckResult:
    """The transcript gate as the UI shows it on ``translation``."""
    waiting = status == "awaiting_review"
    how = f"localize approve {video} --transcript, or materialize with approve_transcript: true"
    passed = "approved by a reviewer" if required else "no transcript review asked"
    return dg.AssetCheckResult(
        check_name="transcript_approved",
        asset_key=dg.AssetKey("translation"),
        passed=not waiting,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"awaiting transcript review: {how}" if waiting else passed,
        metadata={"required": required, "status": status.replace("_", " ")},
    )


def review_check(policy: str, status: str, video: str, lang: str) -> dg.AssetCheckResult:
    """The gate's state as the UI shows it: passed when approved, a warning while awaiting."""
    waiting = status == "awaiting_review"
    how = f"localize approve {video} --to {lang}, or materialize with config approve: true"
    return dg.AssetCheckResult(
        check_name="approved",
        asset_key=dg.AssetKey("translation_review"),
        passed=not waiting,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"awaiting review: {how}" if waiting else f"approved (policy {policy})",
        metadata={"policy": policy, "status": status.replace("_", " ")},
    )


def _line_table(fits: Iterable[LineFit]) -> dg.TableMetadataValue:
    """The listed lines: id, slot, what happened and why."""
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "id": fit.id,
                    "start": fit.slot.start,
                    "end": fit.slot.end,
                    "action": fit.action,
                    "reason": fit.reason,
                }
            )
            for fit in fits
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("id", "int"),
                dg.TableColumn("start", "float"),
                dg.TableColumn("end", "float"),
                dg.TableColumn("action", "string"),
                dg.TableColumn("reason", "string"),
            ]
        ),
    )


def dub_checks(dub: DubTrack) -> list[dg.AssetCheckResult]:
    """The dub's three checks: failed synthesis (blocking), cut lines, speed limits."""
    failed = [fit for fit in dub.lines if fit.failed]
    cut = [fit for fit in dub.lines if fit.cut]
    too_fast = [
        fit
        for fit in dub.lines
        if fit.action == "compress" and fit.ratio > MAX_COMPRESS + SPEED_TOLERANCE
    ]
    too_slow = [
        fit
        for fit in dub.lines
        if fit.action == "stretch" and fit.ratio < 1 / MAX_STRETCH - SPEED_TOLERANCE
    ]
    share = failed_share(dub)
    return [
        dg.AssetCheckResult(
            check_name="synthesis_failures",
            passed=not over_failure_limit(dub),
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{len(failed)} of {len(dub.lines)} lines failed synthesis ({share:.0%}; "
                f"at most {MAX_FAILED_SHARE:.0%} may)"
            ),
            metadata={"failed_lines": len(failed), "share": round(share, 3), **_listed(failed)},
        ),
        dg.AssetCheckResult(
            check_name="cut_lines",
            passed=not cut,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{len(cut)} line(s) cut at the next line: {', '.join(str(f.id) for f in cut)}"
                if cut
                else "no line was cut"
            ),
            metadata={"cut_lines": len(cut), **_listed(cut)},
        ),
        dg.AssetCheckResult(
            check_name="speed_limits",
            passed=not (too_fast or too_slow),
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{len(too_fast)} line(s) over {MAX_COMPRESS}x, "
            f"{len(too_slow)} stretched past {MAX_STRETCH}x",
            metadata={
                "fastest": max((fit.ratio for fit in dub.lines), default=1.0),
                "compressed": sum(fit.action == "compress" for fit in dub.lines),
                "stretched": sum(fit.action == "stretch" for fit in dub.lines),
            },
        ),
    ]


def _listed(fits: list[LineFit]) -> dict[str, dg.TableMetadataValue]:
    return {"lines": _line_table(fits)} if fits else {}


def stems_check(stems: Stems) -> dg.AssetCheckResult:
    """Degraded separation leaves the original speech under the dub: a warning."""
    separation = stems.separation
    return dg.AssetCheckResult(
        check_name="separation",
        passed=not separation.degraded,
        severity=dg.AssetCheckSeverity.WARN,
        description=separation.note or f"separated by {separation.method}",
        metadata={"method": separation.method, "degraded": separation.degraded},
    )


def sync_check(plan: SyncPlan) -> dg.AssetCheckResult:
    """Frames sent vs speaking frames: no more than the speaking frames that have a face, plus
    what each window may grow to reach a whole number of 16-frame engine chunks (and a frame of
    rounding), so silence and faceless frames never cost engine time."""
    wanted = plan.frames_speaking - plan.faceless_frames_excluded
    sync_windows = sum(window.mode == "sync" for window in plan.windows)
    growth = math.ceil((CHUNK_FRAMES - 1) * plan.fps / ENGINE_FPS) + 1
    sent = plan.frames_in_windows
    return dg.AssetCheckResult(
        check_name="sync_coverage",
        passed=sent <= min(wanted + sync_windows * growth, plan.frames_total),
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{sent} of {plan.frames_total} frames sent to {plan.engine}; speech covers "
            f"{plan.frames_speaking}, of which {plan.faceless_frames_excluded} have no face"
        ),
        metadata={
            "frames_total": plan.frames_total,
            "frames_sent": sent,
            "frames_speaking": plan.frames_speaking,
            "faceless_frames_excluded": plan.faceless_frames_excluded,
            "speech_covered": round(sent / wanted, 3) if wanted > 0 else 1.0,
        },
    )


def output_check(source: SourceVideo, video: LocalizedVideo) -> dg.AssetCheckResult:
    """The delivery lasts the source picture, within one frame, and has its frame count."""
    expected = source.probe.picture_duration
    frame = 1 / float(source.probe.fps) if source.probe.fps else 0.05
    gap = abs(video.duration - expected)
    frames, source_frames = video.frame_count, source.probe.frame_count
    same_frames = frames is None or source_frames is None or frames == source_frames
    return dg.AssetCheckResult(
        check_name="matches_source",
        passed=gap <= frame + 1e-3 and same_frames,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"output {video.duration:.3f} s, {frames} frames; "
            f"source picture {expected:.3f} s, {source_frames} frames"
        ),
        metadata={
            "output_s": video.duration,
            "source_s": expected,
            "gap_s": round(gap, 4),
            "output_frames": frames,
            "source_frames": source_frames,
        },
    )
