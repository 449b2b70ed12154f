"""Dagster's "re-execute from failure" on a lip-sync whose third window crashed: the new run
redoes that window's step, the collect step and the delivery the failure skipped, and no other
window's step (through the public Python API, with the partition's tags)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from localization_dagster.definitions import build_definitions
from tests.conftest import project_settings
from tests.e2e.conftest import run_video_level
from tests.fakes import WindowFailureResource

pytestmark = pytest.mark.slow
SWITCH = "LOCALIZATION_TEST_FAILURE_SWITCH"


def localization_job() -> dg.JobDefinition:
    """The localization job with the preview engine failing on window 2 while the switch file
    named by the environment exists (module level: Dagster reconstructs the job from it)."""
    failing = WindowFailureResource(
        provider="preview", max_window_s=1.28, window=2, switch=os.environ[SWITCH]
    )
    return build_definitions(lipsyncer=failing).resolve_job_def("localization_stages")


@pytest.fixture()
def failing_project(tmp_path: Path, french_face_clip: Path) -> Iterator[Path]:
    switch = tmp_path / "fail-window-2"
    switch.touch()
    os.environ[SWITCH] = str(switch)
    extra = {"LIPSYNC_PROVIDER": "preview"}
    os.environ.update(extra)
    try:
        with project_settings(tmp_path / "data"):
            run_video_level(french_face_clip, ["en"], source="fr")
            yield switch
    finally:
        for name in (SWITCH, *extra):
            os.environ.pop(name, None)


def steps(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> set[str]:
    return {e.step_key or "" for e in instance.all_logs(run_id, of_type=kind)}


def test_reexecuting_from_failure_redoes_only_the_failed_window_and_what_it_skipped(
    failing_project: Path,
) -> None:
    from localization_core.settings import get_settings
    from localization_dagster.runner import open_instance

    instance = open_instance(get_settings())
    key = dg.MultiPartitionKey({"video": "french-face", "lang": "en"})
    tags = {"dagster/partition": str(key), "dagster/partition/video": "french-face",
            "dagster/partition/lang": "en"}  # fmt: skip
    job = dg.reconstructable(localization_job)
    first = dg.execute_job(job, instance, tags=tags, raise_on_error=False)
    assert not first.success
    failed = steps(instance, first.run_id, dg.DagsterEventType.STEP_FAILURE)
    assert failed == {"lipsync.sync_segment[2]"}, failed
    windows = {s for s in steps(instance, first.run_id, dg.DagsterEventType.STEP_SUCCESS)
               if s.startswith("lipsync.sync_segment[")}  # fmt: skip
    assert len(windows) >= 3, "the other windows finished in the failed run"

    failing_project.unlink()  # the GPU worker is healthy again
    options = dg.ReexecutionOptions.from_failure(first.run_id, instance)
    second = dg.execute_job(job, instance, reexecution_options=options, tags=tags)
    assert second.success
    redone = steps(instance, second.run_id, dg.DagsterEventType.STEP_START)
    assert redone == {"lipsync.sync_segment[2]", "lipsync.collect_segments", "localized_video"}
    run = instance.get_run_by_id(second.run_id)
    assert run is not None and run.tags["dagster/partition"] == str(key)
    assert run.parent_run_id == first.run_id
