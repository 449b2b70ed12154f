"""The code location loads and its partitions are the ones DESIGN section 3 names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from localization_dagster.definitions import defs
from localization_dagster.partitions import languages, localizations, videos
from tests.conftest import project_env


def test_definitions_load_with_partitioned_source_video() -> None:
    assert dg.AssetKey("source_video") in defs.resolve_asset_graph().get_all_asset_keys()
    assert videos.name == "videos" and languages.name == "languages"
    assert set(localizations.partition_dimension_names) == {"video", "lang"}


def test_every_stage_of_design_section_3_is_an_asset_with_its_partitions() -> None:
    graph = defs.resolve_asset_graph()
    by_partitioning: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        kind = "videos" if partitions == videos else "localizations"
        assert partitions in (videos, localizations), key
        by_partitioning.setdefault(kind, set()).add(key.to_user_string())
    assert by_partitioning == {
        "videos": {"source_video", "stems", "transcript", "voice_refs", "face_track"},
        "localizations": {
            "translation",
            "translation_review",
            "dub_track",
            "sync_plan",
            "lipsync",
            "localized_video",
        },
    }
    assert {job.name for job in defs.jobs or []} >= {"video_stages", "localization_stages"}


def test_sensors_run_without_clicks_and_automation_is_eager() -> None:
    sensors = {sensor.name: sensor for sensor in defs.sensors or []}
    assert set(sensors) == {
        "uploads_sensor",
        "localization_automation",
        "localization_requests",
        "review_edits",
        "localization_failure_alerts",
        "catalog_manifests",
    }
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        condition = graph.get(key).automation_condition
        if key.to_user_string() == "source_video":
            assert condition is None, "the upload sensor owns source_video launches"
        else:
            assert condition is not None and "eager" in (condition.get_label() or "").lower()


ROUTES = """
from localization_dagster.assets.lipsync import sync_segment
from localization_dagster.assets.video import stems, transcript
print(sync_segment.pool, sync_segment.tags["dagster-celery/queue"], transcript.op.pool,
      stems.op.pool)
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LIPSYNC_PROVIDER": "musetalk"}, "gpu gpu None None"),
        ({"LIPSYNC_PROVIDER": "latentsync", "WHISPER_DEVICE": "cuda"}, "gpu gpu gpu None"),
        ({"LIPSYNC_PROVIDER": "preview"}, "None cpu None None"),
    ],
)
def test_gpu_steps_follow_the_provider_s_registry_entry(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    """Pools and queues are fixed when the definitions load: a fresh process per setting."""
    shown = subprocess.run(
        [sys.executable, "-c", ROUTES], env=project_env(tmp_path / "data", **env),
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    assert " ".join(shown) == expected
