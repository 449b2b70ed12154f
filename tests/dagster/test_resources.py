"""Resources instead of a process-wide runtime: each configuration gets its own objects, secrets
reach the UI as the name of their variable, and the definitions carry every resource."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from localization_core.settings import Settings, get_settings
from localization_dagster.resources import StorageResource, build_resources


def azure(connection_string: str, tmp_path: Path) -> StorageResource:
    """A storage resource on Azure Blob with ``connection_string``."""
    return StorageResource(
        storage_type="azure_blob",
        local_root=str(tmp_path / "unused"),
        scratch_dir=str(tmp_path / "work"),
        azure_container="resources-test",
        azure_connection_string=connection_string,
    )


def test_two_connection_strings_give_two_backends(azurite: str, tmp_path: Path) -> None:
    """Masked, the two strings look the same; each still gets its own backend."""
    other = azurite.replace("127.0.0.1", "localhost")
    first = Settings(STORAGE_TYPE="azure_blob", AZURE_STORAGE_CONNECTION_STRING=azurite)
    second = Settings(STORAGE_TYPE="azure_blob", AZURE_STORAGE_CONNECTION_STRING=other)
    assert first.model_dump_json() == second.model_dump_json(), "secrets are masked in dumps"

    a, b = azure(azurite, tmp_path), azure(other, tmp_path)
    assert a.backend() is not b.backend()
    assert a.backend() is azure(azurite, tmp_path).backend(), "one backend per configuration"
    a.backend().ensure_container()  # type: ignore[attr-defined]
    a.backend().write_bytes("hello.txt", b"through 127.0.0.1")
    assert b.backend().read_bytes("hello.txt") == b"through 127.0.0.1"
    where = a.backend().location("outputs/v/es/v.es.mp4")
    assert where.startswith("http://127.0.0.1:") and where.endswith("/outputs/v/es/v.es.mp4")
    assert "?" not in where and "AccountKey" not in where


def test_a_wrong_connection_string_is_not_hidden_by_a_working_one(
    azurite: str, tmp_path: Path
) -> None:
    """The old cache keyed on the masked settings would reuse the working backend here."""
    from azure.core.exceptions import HttpResponseError

    from tests.conftest import AZURITE_KEY

    working = azure(azurite, tmp_path)
    working.backend().ensure_container()  # type: ignore[attr-defined]
    assert not working.backend().exists("anything")
    wrong_key = azure(azurite.replace(AZURITE_KEY, "d3Jvbmcga2V5" * 8), tmp_path)
    with pytest.raises(HttpResponseError, match=r"(?i)authoriz|signature"):
        wrong_key.backend().exists("anything")


def test_the_ui_shows_the_secret_variable_not_its_value(
    monkeypatch: pytest.MonkeyPatch, azurite: str
) -> None:
    from localization_dagster.definitions import build_definitions

    monkeypatch.setenv("STORAGE_TYPE", "azure_blob")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    get_settings.cache_clear()
    try:
        defs = build_definitions()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    storage = (defs.resources or {})["storage"]
    assert isinstance(storage, StorageResource)
    assert isinstance(storage.azure_connection_string, dg.EnvVar)
    assert storage.azure_connection_string.env_var_name == "AZURE_STORAGE_CONNECTION_STRING"
    assert "AccountKey" not in storage.model_dump_json()


def test_every_stage_resource_is_bound(tmp_path: Path) -> None:
    from localization_dagster.definitions import defs

    assert set(defs.resources or {}) == {
        "storage",
        "pipeline",
        "separator",
        "transcriber",
        "diarizer",
        "translator",
        "synthesizer",
        "lipsyncer",
        "io_manager",
    }
    local = build_resources(Settings(LOCALIZATION_DATA_DIR=tmp_path))["storage"]
    assert local.backend().name == "local"


def test_a_gpu_engine_is_planned_where_it_is_not_installed() -> None:
    """sync_plan runs on CPU workers: it needs the engine's name, window maximum and the
    preset's tuning, not its checkout; running the engine without one says what is missing."""
    from localization_core.errors import ConfigurationError
    from localization_dagster.resources import LipSyncResource

    musetalk = LipSyncResource(provider="musetalk", max_window_s=60.0)
    assert musetalk.planner().name == "musetalk"
    tuning = musetalk.tuning("BALANCED")
    assert (tuning.max_window_s, tuning.parsing_mode) == (60.0, "jaw")
    with pytest.raises(ConfigurationError, match="LIPSYNC_PROVIDER=musetalk needs MUSETALK_DIR"):
        musetalk.get()
