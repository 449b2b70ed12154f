"""The QA report as the Dagster UI shows it on ``localized_video``: a one-screen summary, the
per-line isochrony table, where to open the output, and the seconds each stage took.

``report.json`` stays the machine-readable copy; this is the same content for a person.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from localization_dagster.partitions import latest_materialization


def summary_markdown(report: Mapping[str, Any]) -> str:
    """The CLI's one-screen summary as a markdown table."""
    source, sync, out = report["source"], report["sync"], report["output"]
    totals = report["isochrony"]["totals"]
    separation = report["separation"]
    rows = [
        ("source", f"{source['file']} ({source['duration']:.2f} s, {source['language']} "
                   f"at {source['language_probability']:.2f})"),
        ("sound vs picture", source["audio_vs_picture"]),
        ("separation", separation["method"] + (" (degraded)" if separation["degraded"] else "")),
        ("dub lines", f"{totals['lines']} ({totals['failed']} failed, {totals['compressed']} "
                      f"compressed, {totals['stretched']} stretched, {totals['cut']} cut)"),
        ("loudness", f"{report['isochrony']['loudness_lufs']} LUFS"),
        ("lip-sync", f"{sync['engine']}: {sync['frames_sent_to_engine']}/{sync['frames_total']} "
                     f"frames in {sync['windows']} windows"),
        ("output", f"{out['duration']:.2f} s, {out['audio_tracks']} audio tracks, "
                   f"{out['subtitle_cues']} subtitle cues"),
    ]  # fmt: skip
    if report.get("note"):
        rows.append(("note", report["note"]))
    lines = [f"### {report['video']} -> {report['target_language']}", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    return "\n".join(lines)


def isochrony_markdown(report: Mapping[str, Any]) -> str:
    """One row per dub line: slot, what was done to fit it, and why."""
    lines = ["| id | slot | synthesized | action | ratio | reason |", "|---|---|---|---|---|---|"]
    for fit in report["isochrony"]["lines"]:
        slot = fit["slot"]
        flag = " **cut**" if fit["cut"] else (" **failed**" if fit["failed"] else "")
        lines.append(
            f"| {fit['id']} | {slot['start']:.2f}-{slot['end']:.2f} s | "
            f"{fit['synthesized_s']:.2f} s | {fit['action']}{flag} | {fit['ratio']:.2f} | "
            f"{_cell(fit['reason'])} |"
        )
    return "\n".join(lines) if report["isochrony"]["lines"] else "(no speech)"


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def stage_seconds(instance: dg.DagsterInstance, video: str, key: str) -> dict[str, float]:
    """Seconds each stage before delivery took, in the run that produced its latest
    materialization of this localization (the video-level stages for its video), from
    Dagster's own step stats, in run order."""
    from localization_dagster.assets import LOCALIZATION_LEVEL, VIDEO_LEVEL  # built by now

    wanted = [(asset.key.to_user_string(), video) for asset in VIDEO_LEVEL]
    wanted += [(asset.key.to_user_string(), key) for asset in LOCALIZATION_LEVEL[:-1]]
    seconds: dict[str, float] = {}
    for asset, partition in wanted:
        record = latest_materialization(instance, asset, partition)
        if record is None:
            continue
        stats = instance.get_run_step_stats(record.run_id)
        took = sum(
            (stat.end_time or 0.0) - (stat.start_time or 0.0)
            for stat in stats
            if (stat.step_key or "").split(".")[0] == asset and stat.end_time
        )
        seconds[asset] = round(took, 2)
    return seconds


def report_metadata(
    report: Mapping[str, Any], location: str, seconds: Mapping[str, float]
) -> dict[str, dg.MetadataValue]:
    """Metadata for ``localized_video``: summary, line table, output link, stage seconds."""
    opened = (
        dg.MetadataValue.url(location)
        if location.startswith(("http://", "https://"))
        else dg.MetadataValue.path(location)
    )
    return {
        "qa_summary": dg.MetadataValue.md(summary_markdown(report)),
        "isochrony": dg.MetadataValue.md(isochrony_markdown(report)),
        "output": opened,
        "stage_seconds": dg.MetadataValue.table(
            records=[dg.TableRecord({"stage": k, "seconds": v}) for k, v in seconds.items()],
            schema=dg.TableSchema(
                columns=[dg.TableColumn("stage", "string"), dg.TableColumn("seconds", "float")]
            ),
        ),
        "total_stage_seconds": dg.MetadataValue.float(round(sum(seconds.values()), 2)),
    }
