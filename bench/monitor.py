"""Memory and CPU of a process tree over time, sampled with psutil in a thread.

A step of the multiprocess executor is a child process of the run; its ffmpeg and engine
calls are its children. The tree's CPU time counts reaped children through their parents'
``children_*`` times, so it only grows; its RSS is the sum over the live processes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

INTERVAL_S = 0.1


@dataclass(frozen=True)
class Sample:
    """The tree at one moment (``at``: epoch seconds, as Dagster's step stats)."""

    at: float
    rss_bytes: int
    cpu_s: float


def _cpu(times: psutil._common.pcputimes) -> float:  # type: ignore[name-defined]
    """User and system time of a process and of the children it reaped."""
    return float(times.user + times.system + times.children_user + times.children_system)


def tree_sample(root: psutil.Process) -> Sample:
    """RSS and CPU time of ``root`` and all its descendants now."""
    rss, cpu = 0, 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            with process.oneshot():
                rss += process.memory_info().rss
                cpu += _cpu(process.cpu_times())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return Sample(time.time(), rss, cpu)


@dataclass
class TreeMonitor:
    """Samples the tree of ``pid`` every 0.1 s until stopped (or the root exits)."""

    pid: int
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeMonitor:
        """Begin sampling in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        """Stop sampling; the samples taken."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.samples

    def _loop(self) -> None:
        try:
            root = psutil.Process(self.pid)
            while not self._stop.is_set():
                self.samples.append(tree_sample(root))
                self._stop.wait(INTERVAL_S)
        except psutil.NoSuchProcess:
            return


def peak_rss(samples: list[Sample], start: float, end: float) -> int:
    """The largest tree RSS sampled in ``start..end`` (0 when no sample fell inside)."""
    return max((s.rss_bytes for s in samples if start <= s.at <= end), default=0)


def cpu_between(samples: list[Sample], start: float, end: float) -> float:
    """CPU seconds the tree used in ``start..end``, from the samples around it."""
    before = [s.cpu_s for s in samples if s.at <= start]
    after = [s.cpu_s for s in samples if s.at >= end]
    inside = [s.cpu_s for s in samples if start <= s.at <= end]
    first = before[-1] if before else (inside[0] if inside else 0.0)
    last = after[0] if after else (inside[-1] if inside else first)
    return max(0.0, last - first)
