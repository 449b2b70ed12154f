"""GPU VM auto-stop/start: the pure decision case by case, then the two sensors on a real
Dagster instance (real runs, steps, ``gpu`` pool slots) with the in-memory VM controller."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from localization_core.errors import ConfigurationError
from localization_core.settings import Settings
from localization_dagster.autostop import (
    GpuWork,
    LocalVmController,
    Policy,
    PowerState,
    Slot,
    Vm,
    decide,
    parse_power,
)
from localization_dagster.sensors import autostop as autostop_sensors
from localization_dagster.sensors.autostop import (
    build_autostop_sensors,
    read_on_since,
    track_on_since,
)

NOW = 1_000_000.0
POLICY = Policy(idle_window_s=900, min_on_s=600)
LONG_AGO = NOW - 10_000


def _vm(power: PowerState, name: str = "gpu-0", on_since: float | None = LONG_AGO) -> Vm:
    return Vm(name, power, on_since)


# --- the decision ---------------------------------------------------------------------------


def test_idle_past_the_window_deallocates() -> None:
    decision = decide(GpuWork(last_end=NOW - 1000), [_vm("running")], POLICY, NOW)
    (action,) = decision.actions
    assert (action.kind, action.vm) == ("deallocate", "gpu-0")
    assert "last GPU step ended 1000 s ago" in action.reason
    assert "idle window 900 s" in action.reason


def test_no_gpu_step_at_all_deallocates_once_the_minimum_on_time_passed() -> None:
    decision = decide(GpuWork(), [_vm("running")], POLICY, NOW)
    assert [(a.kind, a.vm) for a in decision.actions] == [("deallocate", "gpu-0")]
    assert "no GPU step ended in the last 900 s" in decision.actions[0].reason


def test_queued_work_starts_a_stopped_vm_and_stops_none() -> None:
    vms = [_vm("running"), _vm("deallocated", "gpu-1"), _vm("deallocated", "gpu-2")]
    work = GpuWork(queued=("run-a", "run-b"), last_end=NOW - 5000)
    decision = decide(work, vms, POLICY, NOW)
    assert [(a.kind, a.vm) for a in decision.actions] == [("start", "gpu-1")]
    assert "2 queued run(s) need the GPU" in decision.actions[0].reason
    assert any(n.startswith("gpu-0 stays on: 2 queued") for n in decision.notes)
    assert any(n.startswith("gpu-2 stays deallocated") for n in decision.notes)


def test_steps_waiting_for_slots_start_more_vms_up_to_all() -> None:
    vms = [_vm("deallocated"), _vm("stopped", "gpu-1")]
    pending = tuple(Slot("run-a", f"sync_segment[{i}]", run_ended=False) for i in range(5))
    decision = decide(GpuWork(running=("run-a",), pending=pending), vms, POLICY, NOW)
    assert [(a.kind, a.vm) for a in decision.actions] == [("start", "gpu-0"), ("start", "gpu-1")]


def test_a_running_step_never_lets_a_vm_stop() -> None:
    """Even with the idle window and the minimum on-time long past."""
    work = GpuWork(
        running=("run-a",),
        slots=(Slot("run-a", "lipsync.sync_segment[3]", run_ended=False),),
        last_end=NOW - 50_000,
    )
    vms = [_vm("running"), _vm("running", "gpu-1")]
    decision = decide(work, vms, POLICY, NOW)
    assert decision.actions == ()
    assert all("1 step(s) hold a gpu slot" in n for n in decision.notes)


def test_a_slot_held_by_an_ended_run_keeps_no_vm_on_and_says_so() -> None:
    stale = Slot("0123456789abcdef", "lipsync.sync_segment[0]", run_ended=True)
    work = GpuWork(slots=(stale,), last_end=NOW - 2000)
    decision = decide(work, [_vm("running")], POLICY, NOW)
    (action,) = decision.actions
    assert action.kind == "deallocate"
    assert "stale gpu slot(s) held by ended run(s) run 01234567 (lipsync.sync_segment[0])" in (
        action.reason
    )
    assert "they keep no VM on" in action.reason


def test_a_run_without_a_stored_plan_counts_as_needing_the_gpu(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its work must not wait on a stopped VM. (The plan cache holds one plan here, so the
    runs with plans are read again after each eviction and still classified right.)"""
    monkeypatch.setattr(autostop_sensors, "MAX_PLANS", 1)
    controller = LocalVmController({f"gpu-{i}": "deallocated" for i in range(3)})
    start = _sensors()["gpu_vm_autostart"]
    instance.create_run_for_job(cpu_job)
    instance.create_run_for_job(gpu_job)
    _tick(start, instance, controller)
    assert controller.calls == [("start", "gpu-0")]
    instance.add_run(dg.DagsterRun(job_name="no_plan", run_id="f" * 36))
    _tick(start, instance, controller)
    assert controller.calls[1:] == [("start", "gpu-1")]
    lost = dg.DagsterRun(job_name="lost_plan", run_id="e" * 36, execution_plan_snapshot_id="0")
    instance.add_run(lost)
    result = _tick(start, instance, controller)
    assert controller.calls[2:] == [("start", "gpu-2")]
    assert "starting gpu-2: 3 queued run(s) need the GPU" in _reason(result)


def test_recently_finished_gpu_work_keeps_the_vm() -> None:
    decision = decide(GpuWork(last_end=NOW - 300), [_vm("running")], POLICY, NOW)
    assert decision.actions == ()
    assert decision.notes == (
        "gpu-0 stays running: last GPU step ended 300 s ago, within the idle window 900 s",
    )


def test_the_minimum_on_time_keeps_a_vm_just_started() -> None:
    decision = decide(GpuWork(), [_vm("running", on_since=NOW - 120)], POLICY, NOW)
    assert decision.actions == ()
    assert decision.notes == ("gpu-0 stays on: on for 120 s, under the minimum on-time 600 s",)


@pytest.mark.parametrize("power", ["starting", "deallocating", "stopping"])
@pytest.mark.parametrize("work", [GpuWork(), GpuWork(queued=("run-a",))], ids=["idle", "busy"])
def test_a_vm_in_transition_is_left_alone(power: PowerState, work: GpuWork) -> None:
    decision = decide(work, [_vm(power)], POLICY, NOW)
    assert decision.actions == ()
    assert decision.notes == (f"gpu-0 is {power}: nothing to do until it settles",)


def test_idle_stopped_vms_are_deallocated_deallocated_and_unknown_ones_left() -> None:
    vms = [_vm("stopped"), _vm("deallocated", "gpu-1"), _vm("unknown", "gpu-2")]
    decision = decide(GpuWork(), vms, POLICY, NOW)
    assert [(a.kind, a.vm) for a in decision.actions] == [("deallocate", "gpu-0")]
    assert "stopped but still allocated" in decision.actions[0].reason
    assert decision.notes == (
        "gpu-1 is deallocated",
        "gpu-2: power state unknown, left alone",
    )
    busy = decide(GpuWork(queued=("r",)), [_vm("unknown")], POLICY, NOW)
    assert busy.actions == () and busy.notes == ("gpu-0: power state unknown, left alone",)


def test_power_state_codes() -> None:
    assert parse_power(["ProvisioningState/succeeded", "PowerState/deallocated"]) == "deallocated"
    assert parse_power(["ProvisioningState/updating"]) == "unknown"
    assert parse_power(["PowerState/hibernated"]) == "unknown"


def test_the_local_controller_records_calls_and_refuses_unknown_vms() -> None:
    controller = LocalVmController({"gpu-0": "deallocated"})
    controller.start("gpu-0")
    assert controller.power_states() == {"gpu-0": "starting"}
    with pytest.raises(ConfigurationError, match="unknown GPU VM 'gpu-9'; known: gpu-0"):
        controller.deallocate("gpu-9")
    assert controller.calls == [("start", "gpu-0")]


def test_the_stop_sensors_cursor_tracks_when_each_vm_came_on() -> None:
    known = read_on_since(json.dumps({"on_since": {"gpu-0": 5.0, "gpu-1": 6.0}}))
    states: dict[str, PowerState] = {
        "gpu-0": "running",
        "gpu-1": "deallocated",
        "gpu-2": "starting",
    }
    assert track_on_since(known, states, 9.0) == {"gpu-0": 5.0, "gpu-2": 9.0}
    assert read_on_since("not json") == {} and read_on_since('{"on_since": 3}') == {}


# --- the sensors on a real instance -----------------------------------------------------------


@dg.op(out=dg.DynamicOut(int))
def windows() -> Iterator[dg.DynamicOutput[int]]:
    for index in range(2):
        yield dg.DynamicOutput(index, mapping_key=str(index))


@dg.op(pool="gpu")
def sync_segment(index: int) -> int:
    return index


@dg.op(pool="gpu")
def held_segment() -> None:
    """A GPU step (the test records it running: its run started, its slot claimed)."""


@dg.op
def collect(indexes: list[int]) -> int:
    return len(indexes)


@dg.graph
def lipsync() -> Any:
    return collect(windows().map(sync_segment).collect())


@dg.job
def gpu_job() -> None:
    lipsync()


@dg.job
def held_gpu_job() -> None:
    held_segment()


@dg.op
def cpu_step() -> int:
    return 1


@dg.job
def cpu_job() -> None:
    cpu_step()


@dg.op(out=dg.Out(int, is_required=False))
def no_windows() -> Iterator[dg.Output[int]]:
    yield from ()


@dg.job
def skipped_gpu_job() -> None:
    sync_segment(no_windows())


@pytest.fixture()
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("gpu", 1)
        yield instance


def _tick(
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    controller: LocalVmController,
    cursor: str | None = None,
) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"gpu_vms": controller}
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _sensors(idle_window_s: float = 900, min_on_s: float = 0) -> dict[str, dg.SensorDefinition]:
    policy = Policy(idle_window_s=idle_window_s, min_on_s=min_on_s)
    return {s.name: s for s in build_autostop_sensors(30, policy)}


def _logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """What the sensor logged: Python logging, and the sensor's console."""
    return caplog.text + capfd.readouterr().err


def _reason(result: dg.SensorResult) -> str:
    assert result.skip_reason is not None
    return str(result.skip_reason.skip_message)


def test_a_queued_gpu_run_starts_a_vm_and_a_cpu_run_does_not(
    instance: dg.DagsterInstance,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    sensors = _sensors()
    controller = LocalVmController({"gpu-0": "deallocated", "gpu-1": "deallocated"})
    instance.create_run_for_job(cpu_job)
    assert _tick(sensors["gpu_vm_autostart"], instance, controller) is not None
    assert controller.calls == []

    instance.create_run_for_job(gpu_job)
    result = _tick(sensors["gpu_vm_autostart"], instance, controller)
    assert controller.calls == [("start", "gpu-0")]
    assert "starting gpu-0: 1 queued run(s) need the GPU" in _reason(result)
    assert "starting gpu-0: 1 queued run(s) need the GPU" in _logged(caplog, capfd)

    stop = _tick(sensors["gpu_vm_autostop"], instance, controller)
    assert controller.calls == [("start", "gpu-0")]
    assert "gpu-0 is starting" in _reason(stop)


def test_recently_finished_gpu_work_keeps_the_vm_and_idle_past_the_window_stops_it(
    instance: dg.DagsterInstance,
) -> None:
    assert gpu_job.execute_in_process(instance=instance).success
    controller = LocalVmController({"gpu-0": "running"})
    keep = _tick(_sensors(idle_window_s=3600)["gpu_vm_autostop"], instance, controller)
    assert controller.calls == []
    assert "within the idle window 3600 s" in _reason(keep)

    stop = _tick(_sensors(idle_window_s=0)["gpu_vm_autostop"], instance, controller)
    assert controller.calls == [("deallocate", "gpu-0")]
    assert "deallocating gpu-0: idle: no GPU run queued or running" in _reason(stop)


@pytest.mark.parametrize("job", [cpu_job, skipped_gpu_job], ids=["cpu", "gpu-step-skipped"])
def test_finished_work_that_used_no_gpu_does_not_keep_a_gpu_vm_on(
    instance: dg.DagsterInstance, job: dg.JobDefinition
) -> None:
    assert job.execute_in_process(instance=instance).success
    controller = LocalVmController({"gpu-0": "running"})
    result = _tick(_sensors(idle_window_s=3600)["gpu_vm_autostop"], instance, controller)
    assert controller.calls == [("deallocate", "gpu-0")]
    assert "no GPU step ended in the last 3600 s" in _reason(result)


def test_a_step_running_on_the_gpu_keeps_every_vm_on(instance: dg.DagsterInstance) -> None:
    # the instance as it is while the step runs: its run STARTED, its gpu slot claimed (a real
    # run held open in a thread hung in the full suite on SQLite's locks)
    run = instance.create_run_for_job(held_gpu_job, status=dg.DagsterRunStatus.STARTED)
    assert run.execution_plan_snapshot_id, "its plan says which steps need the GPU"
    claim = instance.event_log_storage.claim_concurrency_slot("gpu", run.run_id, "held_segment")
    assert claim.is_claimed
    slots = instance.event_log_storage.get_concurrency_info("gpu").claimed_slots
    assert [s.step_key for s in slots] == ["held_segment"]
    controller = LocalVmController({"gpu-0": "running", "gpu-1": "deallocated"})
    sensors = _sensors(idle_window_s=0, min_on_s=0)
    stop = _tick(sensors["gpu_vm_autostop"], instance, controller)
    start = _tick(sensors["gpu_vm_autostart"], instance, controller)
    assert controller.calls == []  # one VM on is enough for the one step
    assert "gpu-0 stays on: 1 running run(s) need the GPU, 1 step(s) hold a gpu slot" in (
        _reason(stop)
    )
    assert "gpu-1 stays deallocated" in _reason(start)


def test_a_slot_held_by_a_crashed_run_does_not_keep_the_vm_on(
    instance: dg.DagsterInstance,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    run = instance.create_run_for_job(gpu_job)
    instance.event_log_storage.claim_concurrency_slot("gpu", run.run_id, "lipsync.sync_segment[0]")
    controller = LocalVmController({"gpu-0": "running"})
    sensor = _sensors(idle_window_s=0)["gpu_vm_autostop"]
    kept = _tick(sensor, instance, controller)  # the run is alive (queued): its slot counts
    assert controller.calls == [] and "1 step(s) hold a gpu slot" in _reason(kept)

    instance.report_run_failed(run, "run worker lost")
    _tick(sensor, instance, controller)
    assert controller.calls == [("deallocate", "gpu-0")]
    assert f"stale gpu slot(s) held by ended run(s) run {run.run_id[:8]}" in _logged(caplog, capfd)


def test_the_minimum_on_time_counts_from_when_the_stop_sensor_first_saw_the_vm_on(
    instance: dg.DagsterInstance,
) -> None:
    controller = LocalVmController({"gpu-0": "running"})
    sensor = _sensors(idle_window_s=0, min_on_s=600)["gpu_vm_autostop"]
    before = time.time()
    first = _tick(sensor, instance, controller)
    assert controller.calls == []
    assert "under the minimum on-time 600 s" in _reason(first)
    assert first.cursor is not None
    (seen,) = read_on_since(first.cursor).values()
    assert seen >= before

    again = _tick(sensor, instance, controller, first.cursor)
    assert controller.calls == [] and again.cursor == first.cursor

    on_long_ago = json.dumps({"on_since": {"gpu-0": seen - 601}})
    _tick(sensor, instance, controller, on_long_ago)
    assert controller.calls == [("deallocate", "gpu-0")]


class RefusingController(LocalVmController):
    """ARM refusing one VM's deallocation (as a 409 would)."""

    def deallocate(self, vm: str) -> None:
        if vm == "gpu-0":
            raise RuntimeError("(Conflict) Operation not allowed while the VM is updating")
        super().deallocate(vm)


def test_a_refused_request_is_logged_and_the_other_vms_still_go(
    instance: dg.DagsterInstance,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    controller = RefusingController({"gpu-0": "running", "gpu-1": "running"})
    result = _tick(_sensors(idle_window_s=0)["gpu_vm_autostop"], instance, controller)
    assert controller.calls == [("deallocate", "gpu-1")]
    assert "deallocating gpu-0 failed: RuntimeError: (Conflict)" in _logged(caplog, capfd)
    assert _reason(result).startswith("deallocating gpu-0 failed: RuntimeError: (Conflict)")
    assert "; deallocating gpu-1: idle" in _reason(result)


# --- where the sensors are registered ---------------------------------------------------------


def test_the_sensors_and_resource_exist_only_when_gpu_vms_is_set(tmp_path: Path) -> None:
    from localization_dagster.definitions import build_definitions

    plain = build_definitions(Settings(LOCALIZATION_DATA_DIR=tmp_path))
    assert not {"gpu_vm_autostart", "gpu_vm_autostop"} & {s.name for s in plain.sensors or []}
    azure = Settings(
        LOCALIZATION_DATA_DIR=tmp_path,
        GPU_VMS="gpu-0",
        AZURE_SUBSCRIPTION_ID="sub",
        AZURE_RESOURCE_GROUP="rg",
    )
    defs = build_definitions(azure)
    sensors = {s.name: s for s in defs.sensors or []}
    assert sensors["gpu_vm_autostop"].default_status == dg.DefaultSensorStatus.RUNNING
    assert "gpu_vm_autostart" in sensors
    assert (defs.resources or {})["gpu_vms"].vms == ["gpu-0"]
    with pytest.raises(ConfigurationError, match="set AZURE_SUBSCRIPTION_ID and AZURE_RES"):
        build_definitions(Settings(LOCALIZATION_DATA_DIR=tmp_path, GPU_VMS="gpu-0"))
