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
