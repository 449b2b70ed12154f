"""Kill a localization mid-step and see what the next run redoes.

``kill_during`` starts `localize` in its own process group, waits until the named step starts
(from the CLI's own progress lines), and SIGKILLs the whole group, as a spot eviction or an OOM
kill would. ``steps_of`` lists the steps a run executed, from the instance's events, so a test
can say exactly what a rerun re-executed. Shared by the resumption, lip-sync, operations and
bench tests.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from tests.conftest import REPO, project_env

LOCALIZE = str(REPO / ".venv" / "bin" / "localize")
RUN_LINE = re.compile(r"^run ([0-9a-f-]{36})$", re.MULTILINE)


@dataclass(frozen=True)
class Killed:
    """What the killed process printed before it died."""

    step: str
    stdout: str
    elapsed_s: float


def kill_during(
    data: Path,
    args: list[str],
    step: str,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
) -> Killed:
    """Run `localize *args` (with ``env`` added to the project's environment) and SIGKILL its
    process group as soon as ``step`` starts."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [LOCALIZE, *args],
        env=project_env(data, COLUMNS="200", **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if f"… {step}" in line:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{step} did not start within {timeout} s")
        else:
            raise AssertionError(f"{step} never started:\n{''.join(seen)}")
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
    return Killed(step, "".join(seen), time.monotonic() - started)


def localize(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`localize *args` on the project in ``data`` (``env`` added), to completion."""
    return subprocess.run(
        [LOCALIZE, *args], env=project_env(data, COLUMNS="200", **env), capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip


def run_ids(stdout: str) -> list[str]:
    """The run ids a `localize run` printed."""
    return RUN_LINE.findall(stdout)


def steps_of(data: Path, run_id: str) -> list[str]:
    """The step keys run ``run_id`` started, in order, read from the project's instance."""
    instance = dg.DagsterInstance.from_config(str(data / "dagster"))
    try:
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        return [event.step_key or "?" for event in events]
    finally:
        instance.dispose()


def active_runs(data: Path) -> list[str]:
    """Ids of the runs the project's instance still records as queued or running."""
    instance = dg.DagsterInstance.from_config(str(data / "dagster"))
    try:
        statuses = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
        return [run.run_id for run in instance.get_runs(dg.RunsFilter(statuses=statuses))]
    finally:
        instance.dispose()


def run_status(data: Path, run_id: str) -> dg.DagsterRunStatus:
    """The status the project's instance records for ``run_id``."""
    instance = dg.DagsterInstance.from_config(str(data / "dagster"))
    try:
        run = instance.get_run_by_id(run_id)
        assert run is not None, run_id
        return run.status
    finally:
        instance.dispose()
