"""The QA report as the Dagster UI shows it on ``localized_video``: a one-screen summary, the
per-line isochrony table, where to open the output, the seconds each stage took, and the GPU
figures (frames, engine calls, cache hits, GPU-seconds and their cost) as a table and as
numbers the asset's plots follow across partitions.

``report.json`` stays the machine-readable copy; this is the same content for a person.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from localization_dagster.partitions import latest_materialization


def summary_markdown(report: Mapping[str, Any]) -> str:
    """The one-screen summary as a markdown table."""
    lines = [f"### {report['video']} -> {report['target_language']}", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in summary_rows(report)]
    return "\n".join(lines)


def summary_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The one-screen summary (the UI's and the CLI's): source, separation, speakers, dub
    lines, loudness, lip-sync, what it cost, the output."""
    source, sync, out = report["source"], report["sync"], report["output"]
    totals = report["isochrony"]["totals"]
    separation = report["separation"]
    rows = [
        ("source", f"{source['file']} ({source['duration']:.2f} s, {source['language']} "
                   f"at {source['language_probability']:.2f})"),
        ("sound vs picture", source["audio_vs_picture"]),
        ("separation", separation["method"] + (" (degraded)" if separation["degraded"] else "")),
        ("speakers", _speakers_cell(report)),
        ("dub lines", f"{totals['lines']} ({totals['failed']} failed, {totals['compressed']} "
                      f"compressed, {totals['stretched']} stretched, {totals['cut']} cut)"),
        ("loudness", f"{report['isochrony']['loudness_lufs']} LUFS"),
        ("lip-sync", f"{sync['engine']}: {sync['frames_sent_to_engine']}/{sync['frames_total']} "
                     f"frames in {sync['windows']} windows"),
        *_cost_rows(report),
        ("output", f"{out['duration']:.2f} s, {out['audio_tracks']} audio tracks, "
                   f"{out['subtitle_cues']} subtitle cues"),
    ]  # fmt: skip
    if report.get("note"):
        rows.append(("note", report["note"]))
    return rows


def _speakers_cell(report: Mapping[str, Any]) -> str:
    """How many speakers, found by what, and each one's talk time."""
    speakers = report.get("speakers", [])
    talk = ", ".join(f"{one['speaker']} {one['talk_s']:.1f} s" for one in speakers)
    return f"{len(speakers)} ({report.get('diarizer', 'single')}): {talk}" if speakers else "none"


def table_of(rows: Sequence[Mapping[str, Any]], kinds: Mapping[str, str]) -> dg.TableMetadataValue:
    """A metadata table of ``rows`` whose columns are ``kinds`` (name: Dagster type), in order."""
    columns = [dg.TableColumn(name, kind) for name, kind in kinds.items()]
    return dg.TableMetadataValue(
        [dg.TableRecord(dict(row)) for row in rows], dg.TableSchema(columns)
    )


def speakers_table(report: Mapping[str, Any]) -> dg.TableMetadataValue:
    """One row per speaker: talk time, lines, the reference clip chosen and the dub's voice."""
    rows = []
    for one in report.get("speakers", []):
        ref = one["reference"]
        chosen = (
            f"{ref['source']} {ref['span'][0]:.2f}-{ref['span'][1]:.2f} s"
            if ref
            else f"none: {one['reference_missing'] or 'not chosen'}"
        )
        rows.append(
            {
                "speaker": one["speaker"],
                "talk_s": one["talk_s"],
                "dub_lines": one["dub_lines"],
                "reference": chosen,
                "voice": one["voice"],
            }
        )
    kinds = {"speaker": "string", "talk_s": "float", "dub_lines": "int"}
    return table_of(rows, {**kinds, "reference": "string", "voice": "string"})


def _cost_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Summary rows for what the localization cost: frames, engine calls, cache hits, GPU."""
    sync, cache, cost = report["sync"], report["cache"], report["cost"]
    bound = sync["frames_speech_bound"]
    return [
        ("engine frames", f"{sync['frames_sent_to_engine']} sent of {sync['frames_total']}; "
                          f"speech with a face: {'n/a' if bound is None else bound}"),
        ("engine calls", f"{sync['engine_calls']} ({sync['engine_failures']} failed, "
                         f"{sync['frames_dub_only_fallback']} frames left dub-only), "
                         f"{sync['engine_seconds']:.2f} s in the engine"),
        ("cache", f"{cache['segments_reused']} windows reused, {cache['segments_computed']} "
                  f"computed; {cache['tts_lines_cached']} dub lines from the TTS cache"),
        ("GPU", f"{cost['gpu_seconds']:.2f} GPU-s, ${cost['estimated_cost_usd']:.4f} at "
                f"${cost['gpu_price_per_hour']:g}/h"),
    ]  # fmt: skip


def cost_table(report: Mapping[str, Any]) -> dg.TableMetadataValue:
    """Engine seconds per layer with its provider and pool; GPU-seconds come from ``gpu``."""
    records = [
        dg.TableRecord(
            {
                "layer": layer,
                "provider": engine["provider"],
                "pool": engine["pool"] or "cpu",
                "engine_seconds": engine["seconds"],
            }
        )
        for layer, engine in report["cost"]["engine_seconds"].items()
    ]
    columns = {"layer": "string", "provider": "string", "pool": "string"}
    schema = dg.TableSchema(
        columns=[
            *(dg.TableColumn(name, kind) for name, kind in columns.items()),
            dg.TableColumn("engine_seconds", "float"),
        ]
    )
    return dg.MetadataValue.table(records=records, schema=schema)


def figures(report: Mapping[str, Any]) -> dict[str, dg.MetadataValue]:
    """The per-localization numbers as numeric metadata, so the UI plots them across
    partitions (a figure the report does not have, e.g. an old plan's bound, is left out)."""
    sync, cache, cost = report["sync"], report["cache"], report["cost"]
    counts = {
        "frames_total": sync["frames_total"],
        "frames_sent_to_engine": sync["frames_sent_to_engine"],
        "frames_speech_bound": sync["frames_speech_bound"],
        "frames_dub_only_fallback": sync["frames_dub_only_fallback"],
        "engine_calls": sync["engine_calls"],
        "engine_failures": sync["engine_failures"],
        "cache_hits": cache["segments_reused"],
        "cache_misses": cache["segments_computed"],
        "tts_cache_hits": cache["tts_lines_cached"],
    }
    shown: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.int(value) for name, value in counts.items() if value is not None
    }
    shown["engine_seconds"] = dg.MetadataValue.float(sync["engine_seconds"])
    shown["gpu_seconds"] = dg.MetadataValue.float(cost["gpu_seconds"])
    shown["estimated_cost_usd"] = dg.MetadataValue.float(cost["estimated_cost_usd"])
    return shown


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


def report_metadata(report: Mapping[str, Any], location: str) -> dict[str, dg.MetadataValue]:
    """Metadata for ``localized_video``: summary, line table, output link, stage seconds (as
    ``report.json`` carries them), the cost table and the numeric figures."""
    seconds: Mapping[str, float] = report["stage_seconds"]
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
        "cost": cost_table(report),
        "speakers": speakers_table(report),
        "speaker_count": dg.MetadataValue.int(len(report.get("speakers", []))),
        **figures(report),
    }
