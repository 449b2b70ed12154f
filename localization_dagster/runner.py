"""In-process materialization for the CLI: the video-level run, then the localization run."""

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from localization_core.settings import Settings
from localization_dagster.assets import LOCALIZATION_LEVEL, VIDEO_LEVEL
from localization_dagster.orphans import process_tags

# stage names in run order, from the one list of stage assets (localization_dagster.assets)
VIDEO_ASSETS = tuple(a.key.to_user_string() for a in VIDEO_LEVEL)
LOCALIZATION_ASSETS = tuple(a.key.to_user_string() for a in LOCALIZATION_LEVEL)
EMBEDDED_INSTANCE = """# Embedded instance of the `localize` CLI (SQLite under the data dir).
telemetry:
  enabled: false
"""

# the CLI prints progress and one-line errors itself; the full event log stays in the instance
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# a pair awaiting review skips the dub and what follows it: Dagster's note that the dub's
# blocking check then "emitted no result" is expected, not news for the user
logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
StepListener = Callable[[str, str, float], None]


class RunFailedError(Exception):
    """A run ended in failure; the message names the stage and the reason in one line."""

    def __init__(self, run_id: str, stage: str, step: str, reason: str) -> None:
        self.run_id = run_id
        self.stage = stage
        self.step = step
        super().__init__(f"{stage}: {reason}")


def dagster_home(settings: Settings) -> Path:
    """The CLI's instance directory (created with an embedded dagster.yaml)."""
    home = settings.data_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE)
    return home


def open_instance(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance the CLI and `localize ui` share."""
    os.environ["DAGSTER_HOME"] = str(dagster_home(settings))
    return dg.DagsterInstance.get()


class _StepWatcher(threading.Thread):
    """Reports step starts/ends of the run tagged ``token`` while it executes."""

    KINDS = (
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    )

    def __init__(self, instance: dg.DagsterInstance, token: str, listener: StepListener) -> None:
        super().__init__(daemon=True)
        self.instance = instance
        self.token = token
        self.listener = listener
        self.done = threading.Event()
        self.seen = 0
        self.started: dict[str, float] = {}

    def run(self) -> None:
        while not self.done.is_set():
            self.poll()
            self.done.wait(0.3)
        self.poll()

    def poll(self) -> None:
        runs = self.instance.get_runs(dg.RunsFilter(tags={"localize/token": self.token}), limit=1)
        if not runs:
            return
        events = self.instance.all_logs(runs[0].run_id, of_type=set(self.KINDS))
        for record in events[self.seen :]:
            step = record.step_key or "?"
            kind = record.dagster_event_type
            if kind == dg.DagsterEventType.STEP_START:
                self.started[step] = record.timestamp
                self.listener(step, "start", 0.0)
            else:
                took = record.timestamp - self.started.get(step, record.timestamp)
                ok = kind == dg.DagsterEventType.STEP_SUCCESS
                self.listener(step, "done" if ok else "failed", took)
        self.seen = len(events)


def _asset_of(step: str) -> str:
    """The asset a step belongs to (``lipsync.sync_segment[3]`` belongs to ``lipsync``)."""
    return step.split(".", 1)[0]


def _innermost(error: SerializableErrorInfo | None) -> str:
    """The first line of the innermost cause: what went wrong under Dagster's own wrapping
    (e.g. an I/O manager's read-only disk under ``DagsterExecutionHandleOutputError``)."""
    if error is None:
        return "failed"
    while error.cause is not None:
        error = error.cause
    return (error.message.strip().splitlines() or ["failed"])[0]


def blocked_by_check(events: Iterable[dg.DagsterEvent], run_id: str) -> RunFailedError | None:
    """The first failed blocking check among ``events``: its asset, name and explanation."""
    for event in events:
        if event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.asset_check_evaluation_data
        if evaluation.passed or not evaluation.blocking:
            continue
        stage = evaluation.asset_key.to_user_string()
        reason = f"check {evaluation.check_name} failed: {evaluation.description or 'failed'}"
        return RunFailedError(run_id, stage, event.step_key or stage, reason)
    return None


def failure_of(events: Iterable[dg.DagsterEvent], run_id: str) -> RunFailedError | None:
    """Why a run failed: a failed blocking check, else the first step failure, with its stage
    (from metadata) and one-line reason."""
    events = list(events)
    blocked = blocked_by_check(events, run_id)
    if blocked is not None:
        return blocked
    for event in events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        data = event.step_failure_data
        step = event.step_key or "?"
        user = data.user_failure_data if data else None
        if user is not None:
            stage_value = user.metadata.get("stage")
            stage = str(stage_value.value) if stage_value is not None else _asset_of(step)
            return RunFailedError(run_id, stage, step, user.description or "failed")
        return RunFailedError(
            run_id, _asset_of(step), step, _innermost(data.error if data else None)
        )
    return None


def job_for(selection: Sequence[str]) -> str:
    """The job (one per partitioning) that owns every asset of ``selection``."""
    if set(selection) <= set(VIDEO_ASSETS):
        return "video_stages"
    if set(selection) <= set(LOCALIZATION_ASSETS):
        return "localization_stages"
    raise ValueError(f"a run cannot mix video and localization assets: {sorted(selection)}")


def materialize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: Sequence[str],
    partition_key: str,
    listener: StepListener | None = None,
    *,
    config: dict[str, Any] | None = None,
) -> str:
    """Materialize ``selection`` for one partition in this process (``config``: the run config
    of its ops); returns the run id."""
    token = uuid.uuid4().hex
    keys = [dg.AssetKey(name) for name in selection]
    job = defs.resolve_job_def(job_for(selection))
    watcher = _StepWatcher(instance, token, listener) if listener else None
    if watcher:
        watcher.start()
    tags = {"localize/token": token, "localize/trigger": "cli", **process_tags()}
    run_config = {**QUIET, **(config or {})}
    try:
        if job.executor_def.name == dg.in_process_executor.name:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                partition_key=partition_key,
                raise_on_error=False,
                run_config=run_config,
                tags=tags,
            )
            success, events, run_id = result.success, result.all_events, result.run_id
        else:
            success, events, run_id = _execute_out_of_process(
                job, instance, keys=keys, key=partition_key, run_config=run_config, tags=tags
            )
    finally:
        if watcher:
            watcher.done.set()
            watcher.join(timeout=5)
    if not success:
        raise failure_of(events, run_id) or RunFailedError(run_id, "run", "?", "the run failed")
    return run_id


def _execute_out_of_process(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    *,
    keys: list[dg.AssetKey],
    key: str,
    run_config: dict[str, Any],
    tags: dict[str, str],
) -> tuple[bool, list[dg.DagsterEvent], str]:
    """Run ``job`` through its own executor (multiprocess, Celery): its steps run in other
    processes or on other nodes, which rebuild the job from its module by name."""
    from localization_dagster import definitions

    jobs = {"video_stages": definitions.video_stages}
    jobs["localization_stages"] = definitions.localization_stages
    target = dg.reconstructable(jobs[job.name])
    partition_tags = job.get_tags_for_partition_key(key, selected_asset_keys=keys)
    with dg.execute_job(
        target,
        instance,
        run_config=run_config,
        tags={**tags, **partition_tags},
        asset_selection=keys,
    ) as result:
        return result.success, list(result.all_events), result.run_id
