"""Multi-node execution on Celery (DESIGN section 6): a `gpu` and a `cpu` worker, started as
`localize worker` subprocesses against the machine's RabbitMQ (a throwaway vhost) and a throwaway
Postgres instance, localize a real clip launched by `localize run` with
``LOCALIZATION_EXECUTOR=celery`` (``execute_job`` on the reconstructable job; the steps run in the
workers). The lip-sync engine is the MuseTalk stand-in: a provider in the ``gpu`` pool.

Then a spot eviction: the gpu worker is SIGKILLed (with its engine) in the middle of a segment and
a new one starts; the run completes by itself and only the segment in flight is redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest

from localization_dagster.workers import QUEUES
from tests.conftest import REPO, project_env, stop_process_group
from tests.dagster.test_production_instance import psql
from tests.kill_harness import LOCALIZE

pytestmark = pytest.mark.slow
VIDEO, LANG = "french-face", "en"
PRICE = 1.5  # USD per GPU hour, as an operator sets GPU_PRICE_PER_HOUR
HOST = os.uname().nodename
INSTANCE_YAML = """storage:
  postgres:
    postgres_db:
      hostname: 127.0.0.1
      port: 5432
      db_name: {db}
      username: postgres
      password: unused
      scheme: postgresql+psycopg2
concurrency:
  pools:
    granularity: op
telemetry:
  enabled: false
"""


# the queue of every op of both jobs, as a process with the cluster's settings builds them
ROUTED = """import json
from localization_dagster.definitions import defs
from localization_dagster.workers import QUEUE_TAG
queues = {}
for name in ("video_stages", "localization_stages"):
    for op in defs.resolve_job_def(name).graph.iterate_op_defs():
        queues[op.name] = op.tags.get(QUEUE_TAG, "cpu")
print(json.dumps(queues))
"""


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass
class Cluster:
    """The shared instance and stores, and the environment every process of it runs with."""

    data: Path
    env: dict[str, str]
    calls: Path  # one line per engine invocation (the stand-in's own log)
    workers: dict[str, subprocess.Popen[bytes]]

    def start_worker(self, queue: str, **extra: str) -> None:
        log = (self.data / f"worker-{queue}-{len(self.workers)}.log").open("wb")
        proc = subprocess.Popen(
            [LOCALIZE, "worker", "--queue", queue, "--concurrency", "1"],
            cwd=REPO, env={**self.env, **extra}, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workers[queue] = proc
        deadline = time.monotonic() + 120
        while b" ready." not in Path(log.name).read_bytes():
            assert proc.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, f"the {queue} worker never became ready"
            time.sleep(0.3)

    def localize(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [LOCALIZE, *args], cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip

    def instance(self) -> dg.DagsterInstance:
        os.environ["DAGSTER_HOME"] = str(self.data / "dagster")
        return dg.DagsterInstance.get()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = f"localization_celery_{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("celery")
    data, models = root / "data", root / "models"
    (data / "dagster").mkdir(parents=True)
    (data / "dagster" / "dagster.yaml").write_text(INSTANCE_YAML.format(db=name))
    (models / "musetalkV15").mkdir(parents=True)
    (models / "musetalkV15" / "unet.pth").write_bytes(b"weights")
    (models / "musetalkV15" / "musetalk.json").write_text("{}")
    psql(f"CREATE DATABASE {name}")
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    env = project_env(
        data, LOCALIZATION_EXECUTOR="celery",
        CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:5672/{name}",
        LIPSYNC_PROVIDER="musetalk", MUSETALK_DIR=str(REPO / "tests/engines/musetalk"),
        MUSETALK_PYTHON=sys.executable, MUSETALK_CHECKPOINTS=str(models),
        LIPSYNC_MAX_WINDOW_S="2", STANDIN_LOG=str(root / "engine-calls.jsonl"),
        LIPSYNC_CALL_LOG=str(root / "windows.jsonl"), PYTHONUNBUFFERED="1",
        GPU_PRICE_PER_HOUR=str(PRICE),
    )  # fmt: skip
    cluster = Cluster(data, env, root / "engine-calls.jsonl", {})
    try:
        cluster.start_worker("cpu")
        cluster.start_worker("gpu")
        yield cluster
    finally:
        for proc in cluster.workers.values():
            stop_process_group(proc, grace=15)
        rabbitmqctl("delete_vhost", name)
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        os.environ.pop("DAGSTER_HOME", None)


def finish(proc: subprocess.Popen[str], timeout: float = 900) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def runs_of(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(reversed(instance.get_runs()))


def placement(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[str, str]]:
    """For each step of the run: the worker that ran it (dagster-celery's engine event) and the
    node and queue the step recorded in its output metadata (agreeing with that worker)."""
    worker: dict[str, str] = {}
    recorded: dict[str, tuple[str, str]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.ENGINE_EVENT:
            celery_worker = event.engine_event_data.metadata.get("Celery worker")
            if celery_worker is not None:
                worker[event.step_key] = str(celery_worker.value)
        if event.event_type == dg.DagsterEventType.HANDLED_OUTPUT:
            meta = event.event_specific_data.metadata  # type: ignore[union-attr]
            if "celery_node" in meta:
                recorded[event.step_key] = (
                    str(meta["celery_node"].value),
                    str(meta["celery_queue"].value),
                )
    for step, (node, _queue) in recorded.items():
        assert worker[step] == node, (step, worker[step], node)
    return {step: (node, recorded.get(step, ("", ""))[1]) for step, node in worker.items()}


def succeeded_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    return {r.step_key for r in records if r.step_key}


def served_queues(env: dict[str, str]) -> set[str]:
    """The queues the running workers consume, as the broker's workers answer."""
    from localization_dagster.workers import worker_app

    os.environ["CELERY_BROKER_URL"] = env["CELERY_BROKER_URL"]
    try:
        answers = worker_app().control.inspect(timeout=5).active_queues() or {}
    finally:
        os.environ.pop("CELERY_BROKER_URL")
    return {queue["name"] for queues in answers.values() for queue in queues}


def test_steps_run_on_the_worker_of_their_queue(cluster: Cluster, french_face_clip: Path) -> None:
    out = finish(cluster.localize("run", str(french_face_clip), "--id", VIDEO, "--to", LANG,
                                  "--from", "fr"))  # fmt: skip
    assert (cluster.data / "storage" / "outputs" / VIDEO / LANG).is_dir(), out
    instance = cluster.instance()
    runs = runs_of(instance)
    assert [run.job_name for run in runs] == ["video_stages", "localization_stages"]
    assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert all(run.tags.get("dagster/partition") for run in runs)

    gpu_steps = 0
    no_output = {"translation_review"}  # a gate may yield no output; the engine event still says
    for run in runs:
        steps = placement(instance, run.run_id)
        assert set(steps) == succeeded_steps(instance, run.run_id), "a step ran outside Celery"
        for step, (node, queue) in steps.items():
            expected = "gpu" if step.startswith("lipsync.sync_segment") else "cpu"
            assert node == f"{expected}@{HOST}", (step, node)
            assert queue == expected or (queue == "" and step in no_output), (step, queue)
            gpu_steps += expected == "gpu"
    assert gpu_steps >= 2, "the clip has at least two lip-sync windows"
    print(f"{gpu_steps} lip-sync steps on gpu@{HOST}, every other step on cpu@{HOST}")
    check_gpu_cost(cluster)

    # every queue a step of either job is routed to (as the workers' settings load the jobs)
    # has a worker serving it
    routed = set(json.loads(subprocess.run(
        [sys.executable, "-c", ROUTED], env=cluster.env, cwd=REPO, check=True,
        capture_output=True, text=True, timeout=120,
    ).stdout).values())  # fmt: skip
    assert "gpu" in routed
    assert routed <= set(QUEUES)
    assert routed <= served_queues(cluster.env), "a queue has no worker"


def check_gpu_cost(cluster: Cluster) -> None:
    """The report counts every call the stand-in saw and prices the engine seconds of this
    ``gpu``-pool engine (each window's own, as the lip-sync artifact records them)."""
    report = json.loads((delivered(cluster).parent / "report.json").read_text())
    sync, cost = report["sync"], report["cost"]
    artifact = cluster.data / "storage" / "artifacts" / "lipsync" / VIDEO / f"{LANG}.json"
    segments = json.loads(artifact.read_text())["data"]["segments"]
    assert sync["engine_calls"] == engine_calls(cluster) > 0
    assert report["cache"]["segments_computed"] == len(synced_windows(cluster))
    lipsync = cost["engine_seconds"]["lipsync"]
    assert (lipsync["provider"], lipsync["pool"]) == ("musetalk", "gpu")
    assert cost["gpu_seconds"] == round(sum(s["engine_seconds"] for s in segments), 2) > 0
    assert cost["gpu_seconds"] == sync["engine_seconds"] <= sync["window_seconds"]
    assert cost["estimated_cost_usd"] == pytest.approx(cost["gpu_seconds"] / 3600 * PRICE, abs=1e-6)
    assert sync["frames_speech_bound"] <= sync["frames_sent_to_engine"] <= sync["frames_total"]
    print(f"frames {sync['frames_speech_bound']} speech / {sync['frames_sent_to_engine']} sent "
          f"/ {sync['frames_total']} total; {sync['engine_calls']} engine calls, "
          f"{cost['gpu_seconds']} GPU-s, ${cost['estimated_cost_usd']} at ${PRICE}/h")  # fmt: skip


def engine_calls(cluster: Cluster) -> int:
    return len(cluster.calls.read_text().splitlines()) if cluster.calls.exists() else 0


def stand_in_engines() -> list[psutil.Process]:
    return [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if "--inference_config" in " ".join(proc.info["cmdline"] or [])
    ]


def frames_of(video: Path) -> int:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(video)],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return int(probe.stdout.strip())


def delivered(cluster: Cluster) -> Path:
    return next((cluster.data / "storage" / "outputs" / VIDEO / LANG).glob("*.mp4"))


def synced_windows(cluster: Cluster) -> list[int]:
    artifact = cluster.data / "storage" / "artifacts" / "lipsync" / VIDEO / f"{LANG}.json"
    segments = json.loads(artifact.read_text())["data"]["segments"]
    return [s["index"] for s in segments if s["engine_calls"] > 0]


def test_an_evicted_gpu_worker_costs_only_its_segment(
    cluster: Cluster, french_face_clip: Path
) -> None:
    clean_frames = frames_of(delivered(cluster))
    windows = synced_windows(cluster)
    before = engine_calls(cluster)
    for path in (cluster.data / "storage" / "segments" / "lipsync").rglob("*"):
        if path.is_file():
            path.unlink()  # the store forgets every segment: each window needs the engine again
    stop_process_group(cluster.workers["gpu"], grace=15)
    # this node dies in its second engine call: one segment done, the next one in flight
    cluster.start_worker("gpu", STANDIN_HANG_S="600", STANDIN_HANG_AFTER=str(before + 1))
    run = cluster.localize("run", VIDEO, "--to", LANG, "--force", "lipsync")
    deadline = time.monotonic() + 600
    while engine_calls(cluster) < before + 2 or not stand_in_engines():
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, "the second segment never reached the engine"
        time.sleep(0.2)
    evicted = cluster.workers["gpu"]
    os.killpg(evicted.pid, signal.SIGKILL)  # the spot VM is gone, its engine with it
    for engine in stand_in_engines():
        engine.kill()
    evicted.wait(timeout=30)
    killed_at, calls_at_kill = time.monotonic(), engine_calls(cluster)
    cluster.start_worker("gpu")
    while engine_calls(cluster) == calls_at_kill:  # the redelivered window reaches the engine
        assert run.poll() is None and time.monotonic() - killed_at < 300
        time.sleep(0.2)
    redelivered_s = time.monotonic() - killed_at
    finish(run)
    recovered_s = time.monotonic() - killed_at

    calls = engine_calls(cluster) - before
    assert calls == len(windows) + 1, f"{calls} engine calls for {len(windows)} windows"
    assert synced_windows(cluster) == windows
    assert frames_of(delivered(cluster)) == clean_frames
    print(
        f"evicted mid-segment: {calls} engine calls for {len(windows)} windows (one redone); "
        f"the window in flight back in the engine {redelivered_s:.1f} s after the kill (new "
        f"worker's start included), the run finished {recovered_s:.1f} s after it"
    )


def test_an_eviction_notice_stops_the_gpu_worker_taking_tasks(cluster: Cluster) -> None:
    from localization_dagster.eviction import stop_consuming

    assert "gpu" in served_queues(cluster.env)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CELERY_BROKER_URL", cluster.env["CELERY_BROKER_URL"])
        stop_consuming(f"gpu@{HOST}", "gpu")
        with pytest.raises(RuntimeError, match="did not confirm"):
            stop_consuming(f"gpu@elsewhere-{HOST}", "gpu", timeout=1)
    assert cluster.workers["gpu"].poll() is None, "the worker lives on, its step with it"
    assert served_queues(cluster.env) == {"cpu"}
