"""One localization through the real CLI (`localize run`), measured.

Each run gets a fresh project (nothing reused) and a tree monitor on the CLI's process. Timed
runs execute in-process (the CLI's default); memory runs use the multiprocess executor with one
step at a time, so each step is its own process and a stage's memory is its own, not what an
earlier stage left in the Python heap. Stage times come from Dagster's own step stats.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from bench.monitor import Sample, TreeMonitor, cpu_between, peak_rss
from localization_core.artifacts import LipSync
from tests.conftest import project_env as tests_project_env
from tests.kill_harness import LOCALIZE, RUN_LINE

SEGMENT_STEP = "lipsync.sync_segment"


def project_env(data: Path, **extra: str) -> dict[str, str]:
    """The suite's environment for a `localize` working on ``data``, with wide progress lines."""
    return tests_project_env(data, COLUMNS="200", **extra)


@dataclass(frozen=True)
class Step:
    """One executed step: where it ran in time and what the tree used meanwhile."""

    key: str
    start: float
    end: float
    cpu_s: float
    peak_rss_bytes: int

    @property
    def stage(self) -> str:
        """The stage a step belongs to (every lip-sync step is `lipsync`)."""
        return self.key.split(".")[0].split("[")[0]

    @property
    def seconds(self) -> float:
        """The step's wall-clock time."""
        return self.end - self.start


@dataclass
class Run:
    """What one `localize run` did and cost."""

    wall_s: float
    steps: list[Step]
    report: dict[str, Any]
    lipsync: LipSync
    stored_segments: int
    samples: list[Sample] = field(repr=False, default_factory=list)

    def stage_seconds(self) -> dict[str, float]:
        """Wall-clock seconds per stage."""
        totals: dict[str, float] = defaultdict(float)
        for step in self.steps:
            totals[step.stage] += step.seconds
        return dict(totals)

    def stage_cpu(self) -> dict[str, float]:
        """CPU seconds per stage (the step process and everything it ran)."""
        totals: dict[str, float] = defaultdict(float)
        for step in self.steps:
            totals[step.stage] += step.cpu_s
        return dict(totals)

    def stage_peak_rss(self) -> dict[str, int]:
        """Peak RSS of the process tree while each stage ran."""
        peaks: dict[str, int] = defaultdict(int)
        for step in self.steps:
            peaks[step.stage] = max(peaks[step.stage], step.peak_rss_bytes)
        return dict(peaks)

    def cpu_total(self) -> float:
        """CPU seconds of the whole `localize run` (startup and Dagster included)."""
        return self.samples[-1].cpu_s - self.samples[0].cpu_s if self.samples else 0.0

    def segment_steps(self) -> list[tuple[Step, float, float, str]]:
        """Each lip-sync segment step with its window's work seconds, engine seconds and
        status."""
        by_index = {s.index: s for s in self.lipsync.segments}
        out: list[tuple[Step, float, float, str]] = []
        for step in self.steps:
            if step.key.startswith(SEGMENT_STEP):
                index = int(step.key.split("[")[1].rstrip("]"))
                seg = by_index[index]
                out.append((step, seg.seconds, seg.engine_seconds, seg.status))
        return out


MULTIPROCESS = {"LOCALIZATION_EXECUTOR": "multiprocess", "MAX_CONCURRENT_STEPS": "1"}


def localize_run(data: Path, video: Path, *, target: str = "en", source: str = "fr",
                 env: dict[str, str] | None = None, fresh: bool = True) -> Run:  # fmt: skip
    """Localize ``video`` in the project at ``data`` (emptied first when ``fresh``) and measure
    it (``env``: added to the project's environment, e.g. ``MULTIPROCESS``)."""
    if fresh:
        shutil.rmtree(data, ignore_errors=True)
    args = [LOCALIZE, "run", str(video), "--to", target, "--from", source]
    started = time.monotonic()
    proc = subprocess.Popen(
        args, env=project_env(data, **(env or {})), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    monitor = TreeMonitor(proc.pid).start()
    out, _ = proc.communicate(timeout=3600)
    samples = monitor.stop()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"localize run {video.name} failed:\n{out[-3000:]}")
    steps = steps_of(data, RUN_LINE.findall(out), samples)
    return Run(wall, steps, read_report(data, video.stem, target),
               read_lipsync(data, video.stem, target), stored_segments(data), samples)  # fmt: skip


def steps_of(data: Path, run_ids: list[str], samples: list[Sample]) -> list[Step]:
    """Every step the runs executed, in order, with the tree's use while it ran."""
    instance = dg.DagsterInstance.from_config(str(data / "dagster"))
    try:
        stats = [s for run_id in run_ids for s in instance.get_run_step_stats(run_id)]
    finally:
        instance.dispose()
    steps = [
        Step(
            s.step_key,
            s.start_time,
            s.end_time,
            cpu_between(samples, s.start_time, s.end_time),
            peak_rss(samples, s.start_time, s.end_time),
        )
        for s in stats
        if s.start_time is not None and s.end_time is not None
    ]
    return sorted(steps, key=lambda step: step.start)


def read_report(data: Path, video: str, target: str) -> dict[str, Any]:
    """The delivered report.json."""
    path = data / "storage" / "outputs" / video / target / "report.json"
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def read_lipsync(data: Path, video: str, target: str) -> LipSync:
    """The lip-sync asset's value: every segment's result."""
    path = data / "storage" / "artifacts" / "lipsync" / video / f"{target}.json"
    return LipSync.model_validate(json.loads(path.read_text())["data"])


def stored_segments(data: Path) -> int:
    """Objects in the segment store (clips and manifests)."""
    folder = data / "storage" / "segments" / "lipsync"
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
