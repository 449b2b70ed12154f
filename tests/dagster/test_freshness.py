"""Dagster's own staleness follows the catalog: a `--from` correction or a re-upload makes what
follows `source_video` stale, a rerun with the same inputs leaves it fresh, and the CLI's checker
gives the answer the webserver's GraphQL (`staleStatusByPartition`) gives."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest

from localization_core.settings import Settings
from tests.conftest import (
    REPO,
    ffmpeg,
    free_port,
    media_file,
    project_env,
    project_settings,
    stop_process_group,
    wait_for_port,
)

pytestmark = pytest.mark.slow
VIDEO_LEVEL = ("source_video", "stems", "transcript", "face_track")


@dataclass(frozen=True)
class Project:
    settings: Settings
    instance: dg.DagsterInstance
    video_id: str
    clip: Path


@pytest.fixture(scope="module")
def project_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """An English clip registered with a wrong source language, its video level materialized."""
    from localization_dagster.definitions import current
    from localization_dagster.registration import register
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import materialize, open_instance

    data = tmp_path_factory.mktemp("fresh") / "data"
    with project_settings(data) as settings:
        clip = media_file("talking_head_square_25fps.mp4")
        instance = open_instance(settings)
        record = register(toolkit(), instance, clip, targets=["en"], source_language="de")
        materialize(current(), instance, VIDEO_LEVEL, record.video_id)
        yield Project(settings, instance, record.video_id, clip)


def states(project: Project, partition: str, assets: tuple[str, ...]) -> dict[str, str]:
    from localization_dagster.definitions import defs
    from localization_dagster.freshness import StaleChecker

    checker = StaleChecker(project.instance, defs)
    return {asset: checker.state(asset, partition).status for asset in assets}


def source_status(project: Project) -> str:
    from localization_core.catalog import load_record
    from localization_dagster.definitions import defs
    from localization_dagster.freshness import StaleChecker, source_state
    from localization_dagster.resources import toolkit

    record = load_record(toolkit().storage, project.video_id)
    return source_state(StaleChecker(project.instance, defs), record).status


def test_a_materialized_video_level_is_fresh_and_localizations_missing(
    project_run: Project,
) -> None:
    from localization_dagster.runner import LOCALIZATION_ASSETS

    assert states(project_run, project_run.video_id, VIDEO_LEVEL) == dict.fromkeys(
        VIDEO_LEVEL, "fresh"
    )
    assert source_status(project_run) == "fresh"
    key = str(dg.MultiPartitionKey({"video": project_run.video_id, "lang": "en"}))
    assert set(states(project_run, key, LOCALIZATION_ASSETS).values()) == {"missing"}


def test_a_language_correction_makes_everything_after_the_source_stale(
    project_run: Project,
) -> None:
    from localization_dagster.definitions import current
    from localization_dagster.registration import correct_source_language
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import materialize

    correct_source_language(toolkit(), project_run.video_id, "es")
    assert source_status(project_run) == "stale", "the catalog changed under source_video"
    assert shown(project_run)["source_video"][0] == "stale"
    materialize(current(), project_run.instance, ["source_video"], project_run.video_id)
    assert source_status(project_run) == "fresh"
    assert states(project_run, project_run.video_id, VIDEO_LEVEL) == {
        "source_video": "fresh",
        "stems": "stale",
        "transcript": "stale",
        "face_track": "stale",
    }
    rows = shown(project_run)
    assert rows["source_video"] == ("done", rows["source_video"][1])
    assert rows["transcript"] == ("stale", "source_video has a new data version")


def test_a_stale_face_track_is_found_in_its_cache_not_rescanned(project_run: Project) -> None:
    """The language changed, not the picture: face_track reruns from its cache."""
    from localization_dagster.definitions import current
    from localization_dagster.runner import materialize

    materialize(current(), project_run.instance, ["face_track"], project_run.video_id)
    event = project_run.instance.get_latest_materialization_event(dg.AssetKey("face_track"))
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.metadata["reused_from_cache"].value is True
    assert states(project_run, project_run.video_id, ("face_track",)) == {"face_track": "fresh"}


def shown(project: Project) -> dict[str, tuple[str, str]]:
    """What `localize status` shows for the video-level stages: status and detail."""
    from localization_core.catalog import load_record
    from localization_dagster.definitions import defs
    from localization_dagster.resources import toolkit
    from localization_dagster.status import status_rows

    record = load_record(toolkit().storage, project.video_id)
    rows = status_rows(project.instance, defs, [record], toolkit().storage)
    return {row.stage: (row.status, row.detail) for row in rows if row.partition == record.video_id}


def test_a_re_upload_makes_the_source_stale(project_run: Project, tmp_path: Path) -> None:
    from localization_dagster.registration import register
    from localization_dagster.resources import toolkit

    edited = tmp_path / project_run.clip.name
    ffmpeg("-i", str(project_run.clip), "-c", "copy", "-metadata", "comment=v2", str(edited))
    register(toolkit(), project_run.instance, edited, targets=["en"], detect=False,
             video_id=project_run.video_id)  # fmt: skip
    assert source_status(project_run) == "stale"


@pytest.fixture()
def webserver(project_run: Project) -> Iterator[int]:
    """dagster-webserver on the test project's instance."""
    port = free_port()
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "dagster-webserver"), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=project_env(project_run.settings.data_dir),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=120)
        yield port
    finally:
        stop_process_group(proc)


def test_the_checker_agrees_with_the_webserver(project_run: Project, webserver: int) -> None:
    from localization_dagster.runner import LOCALIZATION_ASSETS

    key = str(dg.MultiPartitionKey({"video": project_run.video_id, "lang": "en"}))
    expected = {
        **{(a, project_run.video_id): s for a, s in states(
            project_run, project_run.video_id, VIDEO_LEVEL).items()},
        **{(a, key): s for a, s in states(project_run, key, LOCALIZATION_ASSETS).items()},
    }  # fmt: skip
    assert {"fresh", "stale", "missing"} <= set(expected.values()), "all three are compared"
    for (asset, partition), status in expected.items():
        query = (
            f'{{ assetNodes(assetKeys: [{{path: ["{asset}"]}}]) '
            f'{{ staleStatusByPartition(partitions: ["{partition}"]) }} }}'
        )
        response = httpx.post(
            f"http://127.0.0.1:{webserver}/graphql", json={"query": query}, timeout=60
        )
        body = response.json()
        assert "errors" not in body, body
        (node,) = body["data"]["assetNodes"]
        assert node["staleStatusByPartition"] == [status.upper()], (asset, partition)
