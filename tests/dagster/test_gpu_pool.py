"""The GPU queue is the ``gpu`` pool (DESIGN section 6): its limit is the number of GPU nodes.

Proved with a barrier stand-in engine and no timing: each step, once inside the engine, waits
until another step is inside too (a two-party barrier: both stay until each has seen the other),
or until the instance shows another step held back waiting for a ``gpu`` slot, or until every
other step has finished. At limit 1 no two steps are ever inside together (one is seen waiting
for the slot); at limit 2 both meet inside. Steps run in separate processes (the multiprocess
executor claims pool slots exactly as the Celery executor does).
"""

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from localization_dagster.workers import queue_tags

STEPS = 2


def _inside(folder: Path) -> set[str]:
    return {p.name.removeprefix("in-") for p in folder.glob("in-*")}


def barrier_engine(instance: dg.DagsterInstance, folder: Path, me: str) -> str:
    """Enter the engine and wait for what proves or disproves a second occupant."""
    (folder / f"in-{me}").touch()
    try:
        while True:
            for other in _inside(folder) - {me}:
                (folder / f"saw-{me}-{other}").touch()
            seen = {p.name.rsplit("-", 1)[1] for p in folder.glob(f"saw-{me}-*")}
            if seen:
                if all((folder / f"saw-{other}-{me}").exists() for other in seen):
                    return "met inside"
            elif instance.event_log_storage.get_concurrency_info("gpu").pending_step_count:
                return "another step waits for the slot"
            elif len(list(folder.glob("done-*"))) == STEPS - 1:
                return "every other step finished"
            time.sleep(0.05)
    finally:
        (folder / f"in-{me}").unlink()
        (folder / f"done-{me}").touch()


@dg.op(out=dg.DynamicOut(int))
def windows() -> object:
    for index in range(STEPS):
        yield dg.DynamicOutput(index, mapping_key=str(index))


@dg.op(pool="gpu", tags=queue_tags("gpu"))
def gpu_segment(context: dg.OpExecutionContext, index: int) -> str:
    folder = Path(os.environ["BARRIER_DIR"])
    outcome = barrier_engine(context.instance, folder, str(index))
    (folder / f"outcome-{index}.json").write_text(json.dumps(outcome))
    return outcome


@dg.job(executor_def=dg.multiprocess_executor)
def gpu_steps() -> None:
    windows().map(gpu_segment)


def pool_job() -> dg.JobDefinition:
    return gpu_steps


@pytest.mark.parametrize(("limit", "expected"), [
    (1, {"another step waits for the slot", "every other step finished"}),
    (2, {"met inside"}),
])  # fmt: skip
def test_gpu_pool_limit_bounds_steps_inside_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, expected: set[str]
) -> None:
    monkeypatch.setenv("BARRIER_DIR", str(tmp_path))
    overrides = {"concurrency": {"pools": {"granularity": "op"}}}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path / "home")) as instance:
        instance.event_log_storage.set_concurrency_slots("gpu", limit)
        with dg.execute_job(dg.reconstructable(pool_job), instance) as result:
            assert result.success
    outcomes = {json.loads(p.read_text()) for p in tmp_path.glob("outcome-*.json")}
    assert outcomes == expected
