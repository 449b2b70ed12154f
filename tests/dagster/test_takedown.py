"""Takedown: after `localize remove VIDEO` no object of the video remains in storage (local and
Azurite), its partitions, runs and materialization history are gone, and another video's
objects are byte for byte what they were; a window both videos use stays."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest
from typer.testing import CliRunner

from localization_core.settings import Settings, get_settings
from localization_core.storage import StorageBackend
from localization_core.storage.azure_blob import AzureBlobStorage
from localization_dagster.cli import app
from localization_dagster.removal import runs_of
from localization_dagster.resources import build_resources
from tests.dagster.video_state import (
    digest,
    history,
    record_history,
    segment_keys,
    snapshot,
    store_video,
)


def _backend(
    request: pytest.FixtureRequest, kind: str, monkeypatch: pytest.MonkeyPatch
) -> StorageBackend:
    """This project's storage of ``kind`` (a fresh Azurite container for azure_blob)."""
    if kind == "azure_blob":
        monkeypatch.setenv("STORAGE_TYPE", "azure_blob")
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", request.getfixturevalue("azurite"))
        monkeypatch.setenv("AZURE_STORAGE_CONTAINER", f"takedown-{uuid.uuid4().hex[:12]}")
        get_settings.cache_clear()
    backend: StorageBackend = build_resources(get_settings())["storage"].backend()
    if isinstance(backend, AzureBlobStorage):
        backend.ensure_container()
    return backend


@pytest.mark.parametrize("kind", ["local", "azure_blob"])
def test_remove_takes_the_video_down_and_leaves_the_other_untouched(
    project: Settings,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    from localization_dagster.runner import open_instance

    storage = _backend(request, kind, monkeypatch)
    shared = digest("window", "same picture and dub in both videos")
    intro = store_video(storage, "intro", shared_segment=shared)
    store_video(storage, "outro", shared_segment=shared)
    instance = open_instance(project)
    record_history(instance, "intro")
    record_history(instance, "outro")
    before = snapshot(storage)
    outro_history = history(instance, "outro")
    outro_runs = {run.run_id for run in runs_of(instance, "outro")}
    assert len(intro) > 40 and intro <= set(before)
    assert all(history(instance, "intro").values()), "every stage of intro has history"

    result = CliRunner().invoke(app, ["remove", "intro"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"removed intro: {len(intro)} stored objects, 3 partitions, 3 runs"
    )
    after = snapshot(storage)
    assert set(after) == set(before) - intro, "exactly intro's objects are gone"
    assert not [key for key in after if "intro" in key]
    assert after == {key: before[key] for key in after}, "outro's objects are byte-identical"
    assert set(segment_keys(storage, shared)) <= set(after), "the window outro uses stays"
    assert not instance.has_dynamic_partition("videos", "intro")
    assert instance.has_dynamic_partition("videos", "outro")
    assert not any(history(instance, "intro").values()), "no history of intro's partitions"
    assert runs_of(instance, "intro") == []
    assert history(instance, "outro") == outro_history
    assert {run.run_id for run in runs_of(instance, "outro")} == outro_runs


def test_a_video_with_a_run_in_progress_is_refused_whole(project: Settings) -> None:
    from localization_dagster.runner import open_instance

    storage = build_resources(get_settings())["storage"].backend()
    store_video(storage, "intro")
    instance = open_instance(project)
    instance.add_dynamic_partitions("videos", ["intro"])
    running = dg.DagsterRun(
        job_name="localization_stages",
        run_id=str(uuid.uuid4()),
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition/video": "intro", "dagster/partition": "es|intro"},
    )
    instance.add_run(running)
    before = snapshot(storage)

    refused = CliRunner().invoke(app, ["remove", "intro"])

    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        f"error: intro: 1 run(s) in progress ({running.run_id[:8]}); terminate them in the UI "
        "or wait for them to end, then remove again"
    )
    assert snapshot(storage) == before and instance.has_dynamic_partition("videos", "intro")
    instance.report_run_canceled(running)
    removed = CliRunner().invoke(app, ["remove", "intro"])
    assert removed.exit_code == 0, removed.output
    assert snapshot(storage) == {}
