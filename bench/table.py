"""The README's bench section, written from results.json between two marker comments."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin (written by make bench) -->"
END = "<!-- bench:end -->"


def _mmm(figure: Mapping[str, float], unit: str = "") -> str:
    """``median (min-max)``."""
    return f"{figure['median']}{unit} ({figure['min']}-{figure['max']})"


def _rows(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _frames(results: Mapping[str, Any]) -> list[str]:
    rows = [[name, f["frames_total"], f["frames_sent"], f["frames_speech_bound"]]
            for name, f in results["gpu_frames"].items()]  # fmt: skip
    return _rows(["input", "all frames (naive)", "sent to the engine", "speech-only bound"], rows)


def _stages(results: Mapping[str, Any]) -> list[str]:
    inputs = list(results["per_minute"])
    stages = list(results["per_minute"][inputs[0]]["stages"])
    rows = [[stage, *(_mmm(results["per_minute"][i]["stages"].get(stage, {}).get("wall", _NA))
                      + " / " + _mmm(results["per_minute"][i]["stages"].get(stage, {})
                                     .get("cpu", _NA)) for i in inputs)]
            for stage in stages]  # fmt: skip
    rows.append(["end to end", *(_mmm(results["per_minute"][i]["end_to_end"]["wall"]) + " / "
                                 + _mmm(results["per_minute"][i]["end_to_end"]["cpu"])
                                 for i in inputs)])  # fmt: skip
    return _rows(["stage: wall / CPU s per video minute", *inputs], rows)


_NA = {"median": "-", "min": "-", "max": "-"}


def _memory(results: Mapping[str, Any]) -> list[str]:
    mem = results["memory"]
    rows = [[stage, m["short_mb"], m["long_mb"], m["ratio"]] for stage, m in mem["stages"].items()]
    return _rows(["stage", f"peak RSS MB, {mem['short']}", f"{mem['long']}", "ratio"], rows)


def _claims(results: Mapping[str, Any]) -> list[str]:
    fails, resume, render = results["engine_failures"], results["resume"], results["smart_render"]
    dub_only = results["dub_only_window"]
    overhead = [row["dagster_s"] for row in resume["overhead"]]
    rows = [
        ["engine calls failed on faceless frames: face track / bisect alone",
         f"{fails['with_face_track']['engine_failures']} of "
         f"{fails['with_face_track']['engine_calls']} / "
         f"{fails['bisect_alone']['engine_failures']} of {fails['bisect_alone']['engine_calls']}"
         f" ({fails['bisect_alone']['frames_dub_only_fallback']} frames fell back to dub-only)"],
        ["windows redone after a SIGKILL in the engine",
         f"{resume['windows_recomputed']} of {resume['windows']} "
         f"({resume['windows_done_before_kill']} finished before the kill)"],
        ["smart render vs full re-encode (time ratio)",
         f"{_mmm(render['speedup'], 'x')}, size {render['size_ratio']}, "
         f"{round(render['changed_share'] * 100)} % of frames changed"],
        ["dub-only window step", (_mmm(dub_only["step_s"], " s") if dub_only["step_s"] else "-")
         + f", {dub_only['stored_objects']} objects stored"],
        ["Dagster time around a segment's work (s per step)",
         f"{max(overhead, default=0)} max over {len(overhead)} steps"],
    ]  # fmt: skip
    return _rows(["claim", "measured"], rows)


def markdown(results: Mapping[str, Any]) -> str:
    """The bench section's body."""
    where = results["machine"]
    parts = [
        f"Measured by `make bench` on {where['date']} ({where['cpus']} CPUs, commit "
        f"{where['commit']}, {results['bench_s']} s); medians of {results['plan']['repeats']} "
        "runs with (min-max). Full figures: `bench/results.json`.",
        "", *_frames(results), "", *_claims(results), "", *_stages(results), "",
        *_memory(results),
    ]  # fmt: skip
    return "\n".join(parts)


def update_readme(readme: Path, results: Mapping[str, Any]) -> None:
    """Replace the text between the markers (appended at the end when they are missing)."""
    text = readme.read_text()
    block = f"{BEGIN}\n{markdown(results)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Bench\n\n" + block + "\n"
    partial = readme.with_suffix(".md.partial")
    partial.write_text(text)
    partial.replace(readme)
