"""`python -m bench [--quick]`: run the bench, write results.json and the README table.

Full (``make bench``, about 15 minutes here): 3 timed runs of each 30 s input, the memory pair
(30 s and 5 min HEVC, once each, one process per step), and the side-by-side experiments.
Quick (the suite's reduced bench): one 8 s clip run once with one process per step (its own
memory partner), a 6 s smart render; it writes only the JSON it is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import experiments, inputs, table
from bench.pipeline import MULTIPROCESS, Run, localize_run
from tests.conftest import REPO

MB = 2**20


@dataclass(frozen=True)
class Plan:
    """What one bench run measures."""

    timed: tuple[str, ...]  # inputs timed over ``repeats`` runs
    repeats: int
    timed_env: tuple[tuple[str, str], ...]  # the quick bench times one process per step
    memory: tuple[str, str]  # (short, long) inputs for the memory ratio
    engine_clip: str  # the input of the resume and overhead experiments
    render_seconds: int
    render_repeats: int


FULL = Plan(("h264-720p-30s", "hevc-1080p-30s"), 3, (),
            ("hevc-1080p-30s", "hevc-1080p-5min"), "face-8s", 30, 3)  # fmt: skip
# the quick bench's one run serves as both ends of the memory pair: it runs the figure's code
# without a second, longer localization
QUICK = Plan(("face-8s",), 1, tuple(MULTIPROCESS.items()), ("face-8s", "face-8s"), "face-8s",
             6, 1)  # fmt: skip


def stat(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """Median, min and max of ``values``."""
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}  # fmt: skip


def gpu_frames(run: Run) -> dict[str, Any]:
    """Figure 1 for one localization: frames to the engine vs all vs the speech-only bound."""
    sync = run.report["sync"]
    total, sent = sync["frames_total"], sync["frames_sent_to_engine"]
    bound = sync["frames_speech_bound"]
    return {"frames_total": total, "frames_sent": sent, "frames_speech_bound": bound,
            "sent_share": round(sent / total, 3) if total else 0.0,
            "saved_vs_naive": total - sent, "above_bound": sent - bound}  # fmt: skip


def per_minute(runs: list[Run], seconds: float) -> dict[str, Any]:
    """Figure 5 for one input: wall and CPU seconds per video minute, per stage and end to end,
    as median/min/max over the runs."""
    minutes = seconds / 60
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for stage, value in run.stage_seconds().items():
            wall[stage].append(value / minutes)
        for stage, value in run.stage_cpu().items():
            cpu[stage].append(value / minutes)
    return {
        "stages": {s: {"wall": stat(wall[s]), "cpu": stat(cpu[s])} for s in wall},
        "end_to_end": {"wall": stat([r.wall_s / minutes for r in runs]),
                       "cpu": stat([r.cpu_total() / minutes for r in runs])},
    }  # fmt: skip


def dub_only_steps(runs: list[Run]) -> dict[str, Any]:
    """Done 3: how long a dub-only window's step takes, and what it stored."""
    seconds = [step.seconds for run in runs for step, _, _, status in run.segment_steps()
               if status == "dub_only"]  # fmt: skip
    return {"step_s": stat(seconds) if seconds else None,
            "stored_objects": sum(run.stored_segments for run in runs)}  # fmt: skip


def cost(run: Run) -> dict[str, Any]:
    """The report's per-localization engine, cache and cost figures."""
    sync, cache, paid = run.report["sync"], run.report["cache"], run.report["cost"]
    return {"engine_calls": sync["engine_calls"], "engine_failures": sync["engine_failures"],
            "segments_reused": cache["segments_reused"],
            "tts_lines_cached": cache["tts_lines_cached"], "gpu_seconds": paid["gpu_seconds"],
            "estimated_cost_usd": paid["estimated_cost_usd"]}  # fmt: skip


def memory(work: Path, media: dict[str, inputs.Input], pair: tuple[str, str],
           done: dict[str, Run]) -> dict[str, Any]:  # fmt: skip
    """Figure 6: peak RSS per stage for a short and a long input, one process per step (a run
    in ``done`` is reused)."""
    short, long = (done.get(n) or localize_run(work / f"mem-{n}", media[n].path, env=MULTIPROCESS)
                   for n in pair)  # fmt: skip
    a, b = short.stage_peak_rss(), long.stage_peak_rss()
    return {
        "short": pair[0], "long": pair[1],
        "stages": {s: {"short_mb": round(a[s] / MB), "long_mb": round(b.get(s, 0) / MB),
                       "ratio": round(b.get(s, 0) / a[s], 2)} for s in a if a[s]},
    }  # fmt: skip


def timed(work: Path, media: dict[str, inputs.Input], plan: Plan,
          done: dict[str, Run]) -> dict[str, Any]:  # fmt: skip
    """Figures 1 and 5 and Done 3: ``plan.repeats`` runs of each timed input (the first of
    each kept in ``done`` when it ran one process per step)."""
    out: dict[str, Any] = {"gpu_frames": {}, "per_minute": {}, "face_track_s_per_min": {},
                           "cost": {}}  # fmt: skip
    every: list[Run] = []
    env = dict(plan.timed_env)
    for name in plan.timed:
        runs = [localize_run(work / f"{name}-{i}", media[name].path, env=env)
                for i in range(plan.repeats)]  # fmt: skip
        every += runs
        if env == MULTIPROCESS:
            done[name] = runs[0]
        out["gpu_frames"][name] = gpu_frames(runs[0])
        out["per_minute"][name] = per_minute(runs, media[name].seconds)
        out["face_track_s_per_min"][name] = out["per_minute"][name]["stages"]["face_track"]["wall"]
        out["cost"][name] = cost(runs[0])
    clips = out["gpu_frames"].values()
    out["gpu_frames"]["total"] = {
        key: sum(c[key] for c in clips)
        for key in ("frames_total", "frames_sent", "frames_speech_bound")
    }
    out["dub_only_window"] = dub_only_steps(every)
    return out


def run_bench(plan: Plan, work: Path) -> dict[str, Any]:
    """Every figure of ``plan``."""
    started = time.monotonic()
    media = inputs.build(work / "inputs", quick=plan is QUICK)
    speech = inputs.MEDIA / "speech_fr.flac"
    results: dict[str, Any] = {"machine": machine(), "plan": plan.__dict__}
    done: dict[str, Run] = {}
    results.update(timed(work, media, plan, done))
    results["memory"] = memory(work, media, plan.memory, done)
    results["engine_failures"] = experiments.face_track_exclusion(
        inputs.MEDIA / "cuts_faceless_profile_30fps.mp4", speech
    )
    engine_clip = media[plan.engine_clip].path
    results["resume"] = experiments.resume_after_kill(work, engine_clip)
    renders = [experiments.smart_render(work / f"render-{i}", plan.render_seconds)
               for i in range(plan.render_repeats)]  # fmt: skip
    results["smart_render"] = {**renders[0], "speedup": stat([r["speedup"] for r in renders]),
                               "smart_s": stat([r["smart_s"] for r in renders]),
                               "full_s": stat([r["full_s"] for r in renders])}  # fmt: skip
    results["bench_s"] = round(time.monotonic() - started, 1)
    return results


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                            capture_output=True, check=False).stdout.strip()  # fmt: skip
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "machine": platform.machine(), "commit": commit or "?",
            "date": time.strftime("%Y-%m-%d")}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; write the JSON (and, for a full bench, the README table)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the reduced bench (one clip)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--work", type=Path, default=REPO / "data" / "bench")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    results = run_bench(plan, args.work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".json.partial")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(args.out)
    if not args.quick:
        table.update_readme(args.readme, results)
    print(f"bench: {results['bench_s']} s; wrote {args.out}", file=sys.stderr)
    return 0
