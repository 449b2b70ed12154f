"""`localize run` in its own process, then the Dagster UI and `localize status` on its instance."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, free_port, project_env, stop_process_group, wait_for_port
from tests.e2e.conftest import Delivery

pytestmark = pytest.mark.slow
LOCALIZE = str(REPO / ".venv" / "bin" / "localize")
LOCATION = "localization_dagster.definitions:defs"


@dataclass(frozen=True)
class CliProject:
    data: Path
    run_ids: list[str]
    stdout: str
    failed: subprocess.CompletedProcess[str]


def localize(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOCALIZE, *args],
        env=project_env(data, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory: pytest.TempPathFactory, french_face_clip: Path) -> CliProject:
    data = tmp_path_factory.mktemp("cli") / "data"
    done = localize(data, "run", str(french_face_clip), "--to", "en")
    assert done.returncode == 0, done.stdout + done.stderr
    notes = data.parent / "notes.mp4"
    notes.write_text("not a video\n" * 20)
    failed = localize(data, "run", str(notes), "--to", "en", "--from", "fr")
    run_ids = re.findall(r"^run ([0-9a-f-]{36})$", done.stdout, flags=re.MULTILINE)
    return CliProject(data, run_ids, done.stdout, failed)


def test_localize_run_prints_progress_run_ids_and_the_output(cli_project: CliProject) -> None:
    assert len(cli_project.run_ids) == 2, "the video-level run, then the localization run"
    for step in ("source_video", "transcript", "lipsync.sync_segment[0]", "localized_video"):
        assert f"✓ {step}" in cli_project.stdout
    shown = re.search(r"^output: (\S+\.mp4)$", cli_project.stdout, flags=re.MULTILINE)
    assert shown is not None
    delivery = Delivery(Path(shown.group(1)))
    assert delivery.video.is_file() and delivery.srt.is_file()
    assert delivery.report["target_language"] == "en"


def test_failed_run_is_one_line_and_status_shows_every_stage(cli_project: CliProject) -> None:
    assert cli_project.failed.returncode == 1
    assert cli_project.failed.stderr.count("\n") == 1, cli_project.failed.stderr
    assert cli_project.failed.stderr.startswith("error: source_video: notes.mp4")

    status = localize(cli_project.data, "status")
    assert status.returncode == 0, status.stderr
    rows = {
        tuple(cell.strip() for cell in line.strip("│ ").split("│")[:3])
        for line in status.stdout.splitlines()
        if line.startswith("│")
    }
    for stage in ("source_video", "stems", "transcript", "face_track"):
        assert ("french-face", stage, "done") in rows
    for stage in ("translation", "translation_review", "dub_track", "lipsync", "localized_video"):
        assert ("en|french-face", stage, "done") in rows
    assert ("notes", "source_video", "failed") in rows
    assert ("notes", "stems", "missing") in rows
    assert "source_video: notes.mp4" in status.stdout
    one = localize(cli_project.data, "status", "notes")
    assert "french-face" not in one.stdout and "notes" in one.stdout


def _graphql(port: int, query: str) -> dict[str, Any]:
    response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=60)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.fixture()
def webserver(cli_project: CliProject) -> Iterator[int]:
    """dagster-webserver on the CLI's own instance (its DAGSTER_HOME under the data dir)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "dagster-webserver"), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=project_env(cli_project.data),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=120)
        yield port
    finally:
        stop_process_group(proc)


def test_dagster_ui_shows_both_partition_sets_and_the_cli_runs(
    cli_project: CliProject, webserver: int
) -> None:
    sets = _graphql(
        webserver,
        "{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name }"
        " partitionSets { name partitionsOrError { ... on Partitions { results { name } } } }"
        " } } } }",
    )["repositoriesOrError"]["nodes"]
    assert [node["location"]["name"] for node in sets] == [LOCATION]
    found = {
        s["name"]: [p["name"] for p in s["partitionsOrError"]["results"]]
        for s in sets[0]["partitionSets"]
    }
    assert found["video_stages_partition_set"] == ["french-face", "notes"]
    assert found["localization_stages_partition_set"] == ["en|french-face", "en|notes"]

    runs = _graphql(
        webserver,
        "{ runsOrError { ... on Runs { results { runId status jobName tags { key value } } } } }",
    )["runsOrError"]["results"]
    by_id = {run["runId"]: run for run in runs}
    first, second = (by_id[run_id] for run_id in cli_project.run_ids)
    assert (first["jobName"], first["status"]) == ("video_stages", "SUCCESS")
    assert (second["jobName"], second["status"]) == ("localization_stages", "SUCCESS")
    tags = {tag["key"]: tag["value"] for tag in second["tags"]}
    assert tags["dagster/partition"] == "en|french-face"
    assert any(run["status"] == "FAILURE" for run in runs), "the bad upload's run is listed too"


def test_localize_ui_serves_the_cli_instance(cli_project: CliProject) -> None:
    """`localize ui` is `dagster dev` on the CLI's instance: the UI lists the CLI's runs.

    `dagster dev` ignores SIGTERM when backgrounded (DESIGN section 6), so its process group
    is killed."""
    port = free_port()
    proc = subprocess.Popen(
        [LOCALIZE, "ui", "--port", str(port)],
        cwd=REPO, env=project_env(cli_project.data),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=120)
        runs = _graphql(port, "{ runsOrError { ... on Runs { results { runId } } } }")
        listed = {run["runId"] for run in runs["runsOrError"]["results"]}
        assert set(cli_project.run_ids) <= listed
    finally:
        stop_process_group(proc, grace=0.1)
