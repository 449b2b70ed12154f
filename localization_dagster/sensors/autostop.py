"""The GPU VM auto-stop and auto-start sensors: gather the inputs of ``autostop.decide`` from
the Dagster instance, and carry out its actions (DESIGN section 6).

A run needs the GPU when its execution plan (stored with the run) has a step in the ``gpu``
pool: that is how ``pool_for`` places the GPU engines' steps (lip-sync segments, Demucs,
Whisper on CUDA), so the classification follows the deployment's providers without a list of
step names. A run without a stored plan counts as needing the GPU (its work must not wait on
a stopped VM). The ``gpu`` pool's claimed slots and waiting steps come from the event log
storage, with the status of the run behind each; the last GPU step end from the step
statistics of runs that ended within the idle window (a run ends after its steps).

``gpu_vm_autostart`` starts VMs for queued or running GPU work; ``gpu_vm_autostop``
deallocates idle ones and keeps, in its cursor, when it first saw each VM on (the minimum
on-time counts from there). Each logs every action with its reason; a refused request is
logged and the other VMs are still handled. Requests return once ARM accepts them (a start
takes minutes, longer than a sensor tick may): the next tick sees the VM starting or
deallocating and leaves it alone until it settles.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import dagster as dg

from localization_core.settings import Settings
from localization_dagster.autostop import (
    Decision,
    GpuWork,
    Kind,
    Policy,
    PowerState,
    Slot,
    Vm,
    VmController,
    decide,
    gpu_vm_names,
)

GPU_POOL = "gpu"
WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]
ENDED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
MAX_PLANS = 1024
# execution plan snapshot id -> the nodes of its GPU steps (ids are content hashes: the many
# runs of one job share a plan, so a tick reads each plan once per process)
_GPU_NODES: dict[str, frozenset[str]] = {}


def node_of(step_key: str) -> str:
    """The node of a step (``lipsync.sync_segment[3]`` -> ``lipsync.sync_segment``)."""
    return step_key.split("[", 1)[0]


def gpu_nodes(instance: dg.DagsterInstance, run: dg.DagsterRun) -> frozenset[str] | None:
    """The nodes of ``run``'s steps in the ``gpu`` pool; None when its plan is not stored."""
    snapshot_id = run.execution_plan_snapshot_id
    if snapshot_id is None:
        return None
    if snapshot_id not in _GPU_NODES:
        plan = instance.get_execution_plan_snapshot(snapshot_id)  # None when not stored
        if plan is None:
            return None
        if len(_GPU_NODES) >= MAX_PLANS:
            _GPU_NODES.clear()
        _GPU_NODES[snapshot_id] = frozenset(
            step.node_handle_id for step in plan.steps if step.pool == GPU_POOL
        )
    return _GPU_NODES[snapshot_id]


def needs_gpu(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether ``run`` has a GPU step (or an unknown plan, counted as having one)."""
    nodes = gpu_nodes(instance, run)
    return nodes is None or bool(nodes)


def _gpu_runs(instance: dg.DagsterInstance) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(waiting, started) ids of the runs that need the GPU and have not ended."""
    waiting: list[str] = []
    started: list[str] = []
    statuses = [*WAITING, dg.DagsterRunStatus.STARTED]
    for record in instance.get_run_records(dg.RunsFilter(statuses=statuses)):
        run = record.dagster_run
        if needs_gpu(instance, run):
            bucket = started if run.status == dg.DagsterRunStatus.STARTED else waiting
            bucket.append(run.run_id)
    return tuple(waiting), tuple(started)


def _ended(instance: dg.DagsterInstance, run_ids: Iterable[str]) -> set[str]:
    """The ids among ``run_ids`` whose run has ended or no longer exists."""
    ids = set(run_ids)
    if not ids:
        return set()
    alive = instance.get_run_records(dg.RunsFilter(run_ids=list(ids)))
    return ids - {r.dagster_run.run_id for r in alive if r.dagster_run.status not in ENDED}


def last_gpu_end(instance: dg.DagsterInstance, since: float) -> float | None:
    """When the last GPU step of a run that ended after ``since`` ended (a step cut short by
    a crash ends with its run); None when no such step ended after ``since``."""
    updated = datetime.fromtimestamp(since, tz=UTC)
    last: float | None = None
    for record in instance.get_run_records(dg.RunsFilter(statuses=ENDED, updated_after=updated)):
        nodes = gpu_nodes(instance, record.dagster_run)
        for stat in instance.get_run_step_stats(record.dagster_run.run_id):
            if nodes is not None and node_of(stat.step_key) not in nodes:
                continue
            if stat.start_time is None or (stat.status and stat.status.value == "SKIPPED"):
                continue
            end = stat.end_time or record.end_time
            if end is not None and end > since and (last is None or end > last):
                last = end
    return last


def gather_work(instance: dg.DagsterInstance, now: float, idle_window_s: float) -> GpuWork:
    """The GPU work the instance shows now (the decision's instance inputs)."""
    waiting, started = _gpu_runs(instance)
    info = instance.event_log_storage.get_concurrency_info(GPU_POOL)
    holders = [(s.run_id, s.step_key) for s in info.claimed_slots]
    # a step keeps its pending row once assigned a slot: waiting means not yet assigned
    queued = [(p.run_id, p.step_key) for p in info.pending_steps if p.assigned_timestamp is None]
    ended = _ended(instance, (run_id for run_id, _ in holders + queued))
    return GpuWork(
        queued=waiting,
        running=started,
        slots=tuple(Slot(run_id, step, run_id in ended) for run_id, step in holders),
        pending=tuple(Slot(run_id, step, run_id in ended) for run_id, step in queued),
        last_end=last_gpu_end(instance, now - idle_window_s),
    )


def read_on_since(cursor: str | None) -> dict[str, float]:
    """The stop sensor's cursor: when it first saw each VM on (a bad cursor starts afresh)."""
    try:
        data = json.loads(cursor or "{}")
        return {str(k): float(v) for k, v in dict(data.get("on_since", {})).items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def track_on_since(
    known: Mapping[str, float], states: Mapping[str, PowerState], now: float
) -> dict[str, float]:
    """``known`` updated: VMs on (running, starting) keep their time or get ``now``; the
    others are dropped, so a VM started again counts its on-time afresh."""
    return {
        vm: known.get(vm, now) for vm, power in states.items() if power in ("running", "starting")
    }


def carry_out(
    context: dg.SensorEvaluationContext, controller: VmController, decision: Decision, kind: Kind
) -> list[str]:
    """Carry out the decision's actions of ``kind``, logging each with its reason (or why it
    failed: the other VMs still go); returns the lines logged."""
    done: list[str] = []
    for action in decision.of(kind):
        verb = "starting" if kind == "start" else "deallocating"
        try:
            getattr(controller, kind)(action.vm)
        except Exception as exc:  # any refused request is logged, the other VMs still go
            reason = (str(exc).strip().splitlines() or [""])[0][:300]
            failure = f"{verb} {action.vm} failed: {type(exc).__name__}: {reason}"
            context.log.warning(failure)
            done.append(failure)
            continue
        context.log.info(f"{verb} {action.vm}: {action.reason}")
        done.append(f"{verb} {action.vm}: {action.reason}")
    return done


def _summary(done: list[str], decision: Decision) -> str:
    """The tick's line in the UI: what was done, and why nothing was done to the others."""
    return "; ".join([*done, *decision.notes] or ["no GPU VM to manage"])


def _decision(
    context: dg.SensorEvaluationContext,
    states: Mapping[str, PowerState],
    on_since: Mapping[str, float],
    policy: Policy,
    now: float,
) -> Decision:
    """The decision on the VMs in ``states`` and the instance's GPU work now."""
    vms = [Vm(name, power, on_since.get(name)) for name, power in states.items()]
    return decide(gather_work(context.instance, now, policy.idle_window_s), vms, policy, now)


def build_autostop_sensors(interval_s: int, policy: Policy) -> list[dg.SensorDefinition]:
    """The start and stop sensors, every ``interval_s`` seconds, on the ``gpu_vms`` resource."""
    default = dg.DefaultSensorStatus.RUNNING

    @dg.sensor(
        name="gpu_vm_autostart",
        minimum_interval_seconds=interval_s,
        default_status=default,
        description="Starts stopped GPU VMs when runs that need the GPU are queued or running.",
    )
    def gpu_vm_autostart(
        context: dg.SensorEvaluationContext, gpu_vms: dg.ResourceParam[VmController]
    ) -> dg.SensorResult:
        decision = _decision(context, gpu_vms.power_states(), {}, policy, time.time())
        done = carry_out(context, gpu_vms, decision, "start")
        return dg.SensorResult(skip_reason=_summary(done, decision))

    @dg.sensor(
        name="gpu_vm_autostop",
        minimum_interval_seconds=interval_s,
        default_status=default,
        description="Deallocates GPU VMs idle for GPU_IDLE_WINDOW_S and on for GPU_MIN_ON_S.",
    )
    def gpu_vm_autostop(
        context: dg.SensorEvaluationContext, gpu_vms: dg.ResourceParam[VmController]
    ) -> dg.SensorResult:
        now = time.time()
        states = gpu_vms.power_states()
        on_since = track_on_since(read_on_since(context.cursor), states, now)
        decision = _decision(context, states, on_since, policy, now)
        done = carry_out(context, gpu_vms, decision, "deallocate")
        cursor = json.dumps({"on_since": on_since}, sort_keys=True)
        return dg.SensorResult(skip_reason=_summary(done, decision), cursor=cursor)

    return [gpu_vm_autostart, gpu_vm_autostop]


def autostop_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The two sensors when ``GPU_VMS`` names VMs (they need the ``gpu_vms`` resource), else
    none: the embedded default has no GPU VMs to power."""
    if not gpu_vm_names(settings):
        return []
    policy = Policy(idle_window_s=settings.gpu_idle_window_s, min_on_s=settings.gpu_min_on_s)
    return build_autostop_sensors(settings.sensor_interval_s, policy)
