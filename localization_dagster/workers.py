"""Multi-node execution on Celery (DESIGN section 6): where each step runs, and the workers.

Every step goes to one of two queues: ``gpu`` for steps whose provider runs on a GPU node (the
``gpu`` pool, from the provider registries), ``cpu`` for everything else (also Celery's default
queue in ``celery.yaml``, so no step can land on a queue nobody serves). The executor and the
workers read the same ``celery.yaml`` (broker from ``CELERY_BROKER_URL``, late acks,
reject-on-worker-lost, prefetch 1), so a step submitted by a run is exactly what a worker takes.

Runs on Celery are launched by the daemon or ``execute_job`` on a reconstructable job, never
in process: the orchestrating process submits each step and waits; the worker rebuilds the job
from its module (``localization_dagster.definitions``) with its own environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from localization_core.errors import InvalidInputError

if TYPE_CHECKING:
    import celery
    import dagster as dg

QUEUE_TAG = "dagster-celery/queue"
Queue = Literal["gpu", "cpu"]
QUEUES: tuple[Queue, ...] = ("gpu", "cpu")
# the Celery settings shared by the executor and every worker (the repository's celery.yaml)
CELERY_YAML = Path(__file__).resolve().parents[1] / "celery.yaml"


def queue_of(pool: str | None) -> Queue:
    """The queue of a step in ``pool``: a GPU step runs on a GPU node, all others on cpu."""
    return "gpu" if pool == "gpu" else "cpu"


def queue_tags(pool: str | None) -> dict[str, str]:
    """The op tags that route a step in ``pool`` to its queue."""
    return {QUEUE_TAG: queue_of(pool)}


def celery_config(path: Path | None = None) -> dict[str, Any]:
    """The executor config in ``celery.yaml`` (its ``execution.config``), env sources unresolved:
    the broker URL and its password stay in the environment, not in any run's config."""
    from dagster_celery.cli import get_config_value_from_yaml

    source = path or CELERY_YAML
    if not source.is_file():
        raise InvalidInputError(f"{source}: the Celery config file does not exist")
    return dict(get_config_value_from_yaml(str(source)))


def celery_executor(path: Path | None = None) -> dg.ExecutorDefinition:
    """Dagster's Celery executor configured from ``celery.yaml``."""
    from dagster_celery import celery_executor as executor

    return executor.configured(celery_config(path), name="celery")


def worker_app(path: Path | None = None) -> celery.Celery:
    """The Celery app a worker runs: the executor's settings, with the step task registered."""
    from dagster_celery.cli import get_validated_config
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    if not os.environ.get("CELERY_BROKER_URL"):
        raise InvalidInputError("CELERY_BROKER_URL is not set: the workers' broker (RabbitMQ)")
    source = path or CELERY_YAML
    config = dict(get_validated_config(str(source)))
    config.pop("retries", None)  # the orchestrating run's concern, not the worker's
    app: celery.Celery = make_app(CeleryExecutor.for_cli(**config).app_args())  # type: ignore[no-untyped-call]
    create_task(app)  # type: ignore[no-untyped-call]
    return app


def worker_argv(queue: Queue, concurrency: int | None = None, loglevel: str = "INFO") -> list[str]:
    """The worker's command line: named ``<queue>@<host>``; a GPU worker runs one step at a time
    in a thread (prefork and CUDA freeze), a cpu worker one process per core."""
    pool = "threads" if queue == "gpu" else "prefork"
    count = concurrency or (1 if queue == "gpu" else (os.cpu_count() or 1))
    return [
        "worker",
        f"--queues={queue}",
        f"--hostname={queue}@%h",
        f"--pool={pool}",
        f"--concurrency={count}",
        "--prefetch-multiplier=1",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={loglevel}",
    ]


def executing_worker() -> dict[str, str]:
    """The Celery node and queue executing the current step, or nothing outside a worker (the
    check reads ``celery`` only where a worker has imported it)."""
    module = sys.modules.get("celery")
    task = getattr(module, "current_task", None) if module else None
    request = getattr(task, "request", None)
    hostname = getattr(request, "hostname", None)
    if not hostname:
        return {}
    delivery = getattr(request, "delivery_info", None) or {}
    routed = str(delivery.get("routing_key") or "")
    return {"celery_node": str(hostname), "celery_queue": routed.split(".", 1)[0]}
