"""The production dagster.yaml loads against the machine's PostgreSQL and runs a partition."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from localization_core.settings import Settings
from tests.conftest import REPO, media_file

PG = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "postgres"}


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", PG["DAGSTER_PG_HOST"], "-U", PG["DAGSTER_PG_USER"], "-qc", sql],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A throwaway database for this module, dropped afterwards."""
    name = f"localization_test_{uuid.uuid4().hex[:12]}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture()
def production_env(
    project: Settings, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        **PG,
        "DAGSTER_PG_DB": pg_database,
        "DAGSTER_PG_PASSWORD": "not-used-with-trust-auth",
        "AZURE_STORAGE_ACCOUNT": "localizationlogs",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_production_config_loads_with_every_operational_setting(
    production_env: dict[str, str], tmp_path: Path
) -> None:
    from dagster_azure.blob.compute_log_manager import AzureBlobComputeLogManager
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_retries_retry_on_asset_or_op_failure is False
    monitoring = instance.run_monitoring_settings
    assert monitoring["enabled"] and monitoring["free_slots_after_run_end_seconds"] > 0
    assert monitoring["max_runtime_seconds"] > 0, "a dead worker's run must end to free its slot"
    concurrency = instance.get_concurrency_config()
    assert concurrency.run_queue_config is not None
    assert concurrency.run_queue_config.max_concurrent_runs == 8
    # compute logs go to Azure Blob; it cannot target Azurite (DESIGN section 6), so the
    # manager is built from this config without uploading anything
    manager = instance.compute_log_manager
    assert isinstance(manager, AzureBlobComputeLogManager)
    assert manager._container == "compute-logs"
    text = (REPO / "dagster.yaml").read_text()
    assert "postgresql+psycopg2" in text
    assert production_env["DAGSTER_PG_PASSWORD"] not in text, "secrets come from the env"


def test_one_partition_runs_through_the_production_instance(
    production_env: dict[str, str], tmp_path: Path
) -> None:
    """Postgres storage, queued runs, pools and retries as configured; compute logs kept local
    (the Azure manager would try to reach the cloud)."""
    from localization_dagster.definitions import current
    from localization_dagster.registration import register
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import VIDEO_ASSETS, materialize

    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["compute_logs"] = {
        "module": "dagster._core.storage.local_compute_log_manager",
        "class": "LocalComputeLogManager",
        "config": {"base_dir": str(tmp_path / "logs")},
    }
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    instance = dg.DagsterInstance.from_config(str(home))
    instance.event_log_storage.set_concurrency_slots("gpu", 1)

    rt = toolkit()
    record = register(
        rt, instance, media_file("talking_head_square_25fps.mp4"), targets=["en"],
        source_language="fr", detect=False,
    )  # fmt: skip
    run_id = materialize(current(), instance, VIDEO_ASSETS, record.video_id)

    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    for name in VIDEO_ASSETS:
        latest = instance.get_latest_materialization_event(dg.AssetKey(name))
        assert latest is not None and latest.run_id == run_id, name
    assert instance.get_dynamic_partitions("videos") == [record.video_id]
    assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 1


@pytest.mark.parametrize("instance_kind", ["embedded", "production"])
def test_dagster_definitions_validate_passes(
    instance_kind: str, production_env: dict[str, str], tmp_path: Path
) -> None:
    """From the repository root: with DAGSTER_HOME (the CLI's embedded instance), and without
    it, where Dagster picks up ./dagster.yaml, the production template."""
    env = {**os.environ, **production_env}
    if instance_kind == "embedded":
        env["DAGSTER_HOME"] = str(tmp_path)
    else:
        env.pop("DAGSTER_HOME", None)
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dagster"), "definitions", "validate", "-w",
         "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All code locations passed validation" in proc.stdout + proc.stderr
