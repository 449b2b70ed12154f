"""Terminating a lip-sync run from the Dagster UI (GraphQL, against `localize ui`: webserver and
daemon) while a GPU engine works: the engine's process group is gone within 10 s, the run ends
CANCELED (not FAILED), and no partial segment is stored."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import REPO, free_port, project_env, stop_process_group, wait_for_port
from tests.kill_harness import LOCALIZE, localize

pytestmark = pytest.mark.slow
PARTITION = "en|french-face"
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""
TERMINATE = """mutation($id: String!) { terminateRun(runId: $id) { __typename } }"""


def graphql(port: int, query: str, **variables: Any) -> dict[str, Any]:
    reply = httpx.post(f"http://127.0.0.1:{port}/graphql",
                       json={"query": query, "variables": variables}, timeout=60)  # fmt: skip
    assert reply.status_code == 200, reply.text[:2000]
    data: dict[str, Any] = reply.json()["data"]
    return data


def stand_ins() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if "scripts.inference" in line and "--inference_config" in line:
            found.append(proc)
    return found


@pytest.fixture()
def hung_engine_ui(tmp_path: Path, french_face_clip: Path) -> Iterator[tuple[int, Path, Path]]:
    """A delivered localization, then `localize ui` configured with the MuseTalk stand-in,
    which hangs for two minutes in every call."""
    data, models, log = tmp_path / "data", tmp_path / "models", tmp_path / "calls.jsonl"
    (models / "musetalkV15").mkdir(parents=True)
    (models / "musetalkV15" / "unet.pth").write_bytes(b"weights")
    (models / "musetalkV15" / "musetalk.json").write_text("{}")
    done = localize(data, "run", str(french_face_clip), "--to", "en", "--from", "fr")
    assert done.returncode == 0, done.stdout + done.stderr
    env = project_env(
        data, LIPSYNC_PROVIDER="musetalk", MUSETALK_DIR=str(REPO / "tests/engines/musetalk"),
        MUSETALK_PYTHON=sys.executable, MUSETALK_CHECKPOINTS=str(models),
        STANDIN_HANG_S="120", STANDIN_LOG=str(log),
    )  # fmt: skip
    port = free_port()
    ui = subprocess.Popen(
        [LOCALIZE, "ui", "--port", str(port)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=120)
        yield port, data, log
    finally:
        stop_process_group(ui)


def test_terminating_a_run_stops_the_engine_and_the_run_ends_canceled(
    hung_engine_ui: tuple[int, Path, Path],
) -> None:
    port, data, log = hung_engine_ui
    params = {
        "selector": {
            "repositoryLocationName": "localization_dagster.definitions",
            "repositoryName": "__repository__",
            "jobName": "localization_stages",
            "assetSelection": [{"path": ["sync_plan"]}, {"path": ["lipsync"]}],
        },
        "executionMetadata": {"tags": [
            {"key": "dagster/partition", "value": PARTITION},
            {"key": "dagster/partition/lang", "value": "en"},
            {"key": "dagster/partition/video", "value": "french-face"},
        ]},
    }  # fmt: skip
    launched = graphql(port, LAUNCH, params=params)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 180
    while not (log.exists() and stand_ins()):
        assert time.monotonic() < deadline, "the engine never started"
        time.sleep(0.5)
    assert json.loads(log.read_text().splitlines()[0])["argv"][0] == "--inference_config"

    started = time.monotonic()
    assert graphql(port, TERMINATE, id=run_id)["terminateRun"]["__typename"] == (
        "TerminateRunSuccess"
    )
    while stand_ins():
        assert time.monotonic() - started < 10, "the engine outlived the run's termination"
        time.sleep(0.2)
    print(f"engine process group gone {time.monotonic() - started:.1f} s after terminateRun")
    status = ""
    while status not in {"CANCELED", "FAILURE", "SUCCESS"}:
        assert time.monotonic() - started < 60, status
        status = graphql(port, STATUS, id=run_id)["runOrError"]["status"]
        time.sleep(0.5)
    assert status == "CANCELED"
    segments = data / "storage" / "segments" / "lipsync"
    assert not segments.exists() or not any(p.is_file() for p in segments.rglob("*"))
