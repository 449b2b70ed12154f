"""Under a real dagster-daemon, only the (video, language) pairs someone asked for run: adding a
language for one video starts nothing for the others, even after several automation ticks."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
import srt

from localization_core.settings import Settings
from localization_dagster.runner import dagster_home
from tests.conftest import (
    MODELS,
    REPO,
    free_port,
    media_file,
    project_env,
    stop_process_group,
    wait_for_port,
)

pytestmark = pytest.mark.slow
INTERVAL_S = 2
DEADLINE_S = 300.0
LOCALIZE = str(REPO / ".venv" / "bin" / "localize")


def pair(video: str, lang: str) -> str:
    return str(dg.MultiPartitionKey({"video": video, "lang": lang}))


def runs_for(instance: dg.DagsterInstance, partition: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(tags={"dagster/partition": partition})))


def wait_until(done: object, what: str, daemon: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``done()`` until true; fail with the daemon's log tail when it never is."""
    started = time.monotonic()
    while not done():  # type: ignore[operator]
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        assert daemon.poll() is None, f"the daemon died\n{tail}"
        assert time.monotonic() - started < DEADLINE_S, f"{what}: not within {DEADLINE_S} s\n{tail}"
        time.sleep(1.0)


ADD_LANGUAGE = """mutation($key: String!) { addDynamicPartition(
  repositorySelector: {repositoryLocationName: "localization_dagster.definitions:defs",
                       repositoryName: "__repository__"},
  partitionsDefName: "languages", partitionKey: $key) {
    __typename ... on AddDynamicPartitionSuccess { partitionKey } } }"""


def add_language_in_the_ui(port: int, key: str) -> str:
    """What the UI's "Add a partition" on the languages dimension sends."""
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": ADD_LANGUAGE, "variables": {"key": key}},
        timeout=60,
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    added: str = body["data"]["addDynamicPartition"]["partitionKey"]
    return added


def write_wordless_sidecar(data: Path, video: str, lang: str) -> None:
    """A reviewer's translation of every transcript line that has no words to speak."""
    artifact = data / "storage" / "artifacts" / "transcript" / f"{video}.json"
    lines = json.loads(artifact.read_text())["data"]["lines"]
    cues = [
        srt.Subtitle(
            index=line["id"],
            start=timedelta(seconds=line["start"]),
            end=timedelta(seconds=line["end"]),
            content="...",
        )
        for line in lines
    ]
    sidecar = data / "sidecars" / f"{video}.{lang}.srt"
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(srt.compose(cues, reindex=False))


def materialize_here(
    env: dict[str, str], instance: dg.DagsterInstance, selection: list[str], partition: str
) -> str:
    """Materialize ``selection`` in this process on the daemon's project; the failure line."""
    from localization_core.settings import get_settings
    from localization_dagster.definitions import current
    from localization_dagster.runner import RunFailedError, materialize

    with pytest.MonkeyPatch.context() as patch:
        for name in ("LOCALIZATION_DATA_DIR", "DAGSTER_HOME", "TRANSLATOR_PROVIDER"):
            patch.setenv(name, env[name])
        get_settings.cache_clear()
        try:
            materialize(current(), instance, selection, partition)
        except RunFailedError as exc:
            return str(exc)
        finally:
            get_settings.cache_clear()
    return "no failure"


def localize(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [LOCALIZE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.timeout(DEADLINE_S * 2 + 120)
def test_a_language_for_one_video_starts_nothing_for_the_others(tmp_path: Path) -> None:
    data = tmp_path / "data"
    home = dagster_home(Settings(LOCALIZATION_DATA_DIR=data, LOCALIZATION_MODELS_DIR=MODELS))
    instance = dg.DagsterInstance.from_config(str(home))
    interval = str(INTERVAL_S)
    env = project_env(
        data,
        SENSOR_INTERVAL_S=interval,
        AUTOMATION_INTERVAL_S=interval,
        TRANSLATOR_PROVIDER="sidecar",  # any target language; no sidecar file, so it stops there
    )
    clip_b = tmp_path / "b.mp4"
    shutil.copy(media_file("talking_head_square_25fps.mp4"), clip_b)
    log = tmp_path / "daemon.log"
    port = free_port()
    with log.open("w") as sink:
        daemon = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        webserver = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "dagster-webserver"), "-w", "workspace.yaml",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        clip_a = str(media_file("talking_head_square_25fps.mp4"))
        localize(env, "add", clip_a, "--id", "a", "--to", "fr", "--from", "en")
        localize(env, "add", str(clip_b), "--id", "b", "--to", "fr", "--from", "en")
        first = (pair("a", "fr"), pair("b", "fr"))
        wait_until(
            lambda: (
                all(runs_for(instance, p) for p in first)
                and all(run.is_finished for run in instance.get_runs())
            ),
            "the requested pairs ran",
            daemon,
            log,
        )
        assert "a -> fr, es" in localize(env, "add", "a", "--to", "es")
        wait_until(
            lambda: (
                runs_for(instance, pair("a", "es"))
                and all(run.is_finished for run in instance.get_runs())
            ),
            "a|es was requested",
            daemon,
            log,
        )
        wait_for_port(port, timeout=120)
        assert add_language_in_the_ui(port, "de") == "de"  # the UI's "Add a partition"
        time.sleep(3 * INTERVAL_S + 2)  # more automation and request ticks: nothing else starts
        partitions = {run.tags.get("dagster/partition") for run in instance.get_runs()}

        # a failed blocking check holds under the daemon's automation too: b's reviewed French
        # has no words in any line, so every line fails synthesis; its dub is materialized
        # alone (as the UI's "Materialize" on dub_track does) while the daemon keeps ticking
        write_wordless_sidecar(data, "b", "fr")
        blocked = materialize_here(
            env, instance, ["translation", "translation_review", "dub_track"], pair("b", "fr")
        )
        assert blocked.startswith("dub_track: check synthesis_failures failed: "), blocked
        known = {run.run_id for run in instance.get_runs()}
        time.sleep(3 * INTERVAL_S + 4)  # automation ticks after the dub was updated
        started_after = [run for run in instance.get_runs() if run.run_id not in known]
    finally:
        stop_process_group(webserver, grace=5)
        stop_process_group(daemon, grace=20)

    assert partitions == {"a", "b", pair("a", "fr"), pair("b", "fr"), pair("a", "es")}
    assert instance.get_dynamic_partitions("languages") == ["fr", "es", "de"]
    for asset in ("translation", "translation_review", "localized_video"):
        for unasked in (pair("b", "es"), pair("a", "de"), pair("b", "de")):
            planned = instance.get_latest_planned_materialization_info(dg.AssetKey(asset), unasked)
            assert planned is None, f"{asset} of {unasked} was planned by a run"
    # what must not start is anything after the failed check; automation may still redo the
    # dub itself (its eager condition can fire between the steps of the in-process run that
    # updated translation_review and dub_track; that run fails the same check again)
    after_check = {"sync_plan", "lipsync", "localized_video"}
    selections = [
        (run.tags.get("dagster/partition"), {k.to_user_string() for k in run.asset_selection or ()})
        for run in started_after
    ]
    downstream = [(part, names) for part, names in selections if not names or after_check & names]
    assert downstream == [], downstream
    for asset in ("sync_plan", "lipsync", "localized_video"):
        done = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[pair("b", "fr")]),
            limit=1,
        ).records
        assert not done, f"{asset} of b|fr materialized past the failed check"
    status = localize(env, "status", "b")
    assert pair("b", "fr") in status and pair("b", "es") not in status, status
