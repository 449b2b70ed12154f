"""celery.yaml is what dagster-celery's worker reads, with the delivery guarantees DESIGN asks."""

from __future__ import annotations

import pytest

from tests.conftest import REPO


def test_worker_config_requeues_tasks_of_a_lost_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_celery.cli import get_config_value_from_yaml

    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://user:pw@10.0.0.4:5672//")
    config = get_config_value_from_yaml(str(REPO / "celery.yaml"))
    assert config["broker"] == {"env": "CELERY_BROKER_URL"}, "no credentials in the file"
    source = config["config_source"]
    assert source["task_acks_late"] is True
    assert source["task_reject_on_worker_lost"] is True
    assert source["worker_prefetch_multiplier"] == 1


def test_executor_and_workers_share_the_routing(monkeypatch: pytest.MonkeyPatch) -> None:
    from localization_dagster.workers import celery_config, queue_of, worker_app, worker_argv

    assert celery_config()["config_source"]["task_default_queue"] == "cpu", "no unserved queue"
    assert (queue_of("gpu"), queue_of("llm"), queue_of(None)) == ("gpu", "cpu", "cpu")
    gpu = worker_argv("gpu")
    assert {"--queues=gpu", "--hostname=gpu@%h", "--pool=threads", "--concurrency=1"} <= set(gpu)
    assert "--pool=prefork" in worker_argv("cpu", concurrency=3)
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://user:pw@10.0.0.4:5672//")
    conf = worker_app().conf
    assert conf.broker_url == "amqp://user:pw@10.0.0.4:5672//"
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert (conf.worker_prefetch_multiplier, conf.task_default_queue) == (1, "cpu")


def test_a_worker_without_a_broker_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from localization_core.errors import InvalidInputError
    from localization_dagster.workers import celery_config, worker_app

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    with pytest.raises(InvalidInputError, match="CELERY_BROKER_URL is not set"):
        worker_app()
    with pytest.raises(InvalidInputError, match="does not exist"):
        celery_config(REPO / "no-such-celery.yaml")
