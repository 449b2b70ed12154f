"""Runs whose `localize` process died: found by their process tags and marked failed.

The CLI executes runs in its own process, so a SIGKILL (or a closed laptop lid, or an OOM kill)
leaves the run STARTED forever: nothing else watches it. Each CLI run is tagged with the host,
the pid and that process's start time; before the CLI starts new work, and before `status`
reads the runs, an active run whose process is gone (or whose pid now belongs to another
process) is reported failed through the instance. Runs launched elsewhere (the daemon, the UI)
carry no such tags and are left to Dagster's run monitoring.
"""

import os
import socket

import dagster as dg
import psutil

HOST_TAG = "localize/host"
PID_TAG = "localize/pid"
STARTED_TAG = "localize/process-started"
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _started(pid: int) -> str | None:
    """The start time of process ``pid`` (to tell a reused pid apart), or None if it is gone."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def process_tags() -> dict[str, str]:
    """Tags that identify this process: host, pid and its start time."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), STARTED_TAG: _started(pid) or ""}


def is_orphan(run: dg.DagsterRun) -> bool:
    """An active CLI run of this host whose process no longer runs."""
    tags = run.tags
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return False
    return _started(int(tags[PID_TAG])) != tags.get(STARTED_TAG)


def mark_orphans(instance: dg.DagsterInstance) -> list[str]:
    """Report every orphaned CLI run failed; returns their run ids."""
    runs = instance.get_runs(dg.RunsFilter(statuses=ACTIVE, tags={HOST_TAG: socket.gethostname()}))
    marked = []
    for run in runs:
        if is_orphan(run):
            instance.report_run_failed(
                run,
                f"the localize process (pid {run.tags[PID_TAG]}) ended before this run "
                "finished; marked failed so its work is redone by the next run",
            )
            marked.append(run.run_id)
    return marked
