"""Review between stages through `localize`: a localization held at the gate, approved, then
edited, with only what an edit touches redone (DESIGN section 9)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import numpy as np
import pytest
import soundfile

from localization_core import media
from localization_core.artifacts import DubTrack, LipSync, SyncPlan
from localization_core.providers.transcription.base import Transcriber
from localization_core.storage.local import LocalStorage
from localization_dagster.review import submit_file
from tests.conftest import (
    REPO,
    ffmpeg,
    free_port,
    media_file,
    project_env,
    stop_process_group,
    wait_for_port,
)
from tests.e2e.conftest import words
from tests.kill_harness import localize

pytestmark = pytest.mark.slow
VIDEO, KEY = "talk", "en|talk"
ENV = {"LIPSYNC_PROVIDER": "preview", "LIPSYNC_MAX_WINDOW_S": "2.0"}
NEW_TEXTS = ("The weather is beautiful today.", "We are going to the market tomorrow.")


@dataclass
class Project:
    data: Path
    calls: Path
    held: subprocess.CompletedProcess[str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return localize(self.data, *args, LIPSYNC_CALL_LOG=str(self.calls), **ENV)

    def artifact(self, asset: str) -> Any:
        return json.loads((self.data / f"storage/artifacts/{asset}/talk/en.json").read_text())[
            "data"
        ]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.data / "dagster"))

    def calls_made(self) -> list[dict[str, Any]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]

    def tts_cache(self) -> set[str]:
        return {p.name for p in (self.data / "storage/cache/tts").rglob("*.wav")}

    def snapshot(self) -> dict[str, bytes]:
        root = self.data / "storage"
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """23 s of a talking head saying three French sentences, registered with review required
    and run: it stops after its translation."""
    folder = tmp_path_factory.mktemp("review")
    clip = folder / "talk.mp4"
    speech = str(media_file("speech_fr.flac"))
    ffmpeg(
        "-stream_loop", "2", "-i", str(media_file("talking_head_512_25fps.mp4")),
        "-i", speech, "-i", speech, "-i", speech,
        "-filter_complex",
        "[1:a]apad=pad_dur=1.2[a1];[2:a]apad=pad_dur=1.2[a2];"
        "[a1][a2][3:a]concat=n=3:v=0:a=1,aresample=44100,apad[a]",
        "-map", "0:v:0", "-map", "[a]", "-c:v", "copy", "-c:a", "aac", "-t", "23.0", str(clip),
    )  # fmt: skip
    data = folder / "data"
    project = Project(data, folder / "calls.jsonl", subprocess.CompletedProcess([], 0))
    added = project.run(
        "add", str(clip), "--to", "en", "--from", "fr", "--review", "required", "--burn-subtitles"
    )
    assert added.returncode == 0, added.stderr
    project.held = project.run("run", VIDEO, "--to", "en")
    assert project.held.returncode == 0, project.held.stdout + project.held.stderr
    return project


def _materialized(instance: dg.DagsterInstance, asset: str) -> int:
    return len(instance.fetch_materializations(dg.AssetKey(asset), limit=10).records)


def _graphql(port: int, query: str) -> dict[str, Any]:
    response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=60)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.fixture(scope="module")
def webserver(project: Project) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "dagster-webserver"), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=project_env(project.data, **ENV),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=120)
        yield port
    finally:
        stop_process_group(proc)


CHECK_QUERY = """{ assetCheckExecutions(assetKey: {path: ["translation_review"]},
  checkName: "approved", limit: 5) { status evaluation { partition description } } }"""


def test_required_review_holds_the_pair_after_its_translation(
    project: Project, webserver: int
) -> None:
    assert "talk -> en awaits review" in project.held.stdout
    instance = project.instance()
    assert _materialized(instance, "translation") == 1
    for asset in ("translation_review", "dub_track", "sync_plan", "lipsync", "localized_video"):
        assert _materialized(instance, asset) == 0, asset
    # automation, two evaluations as the daemon would run them, starts nothing after the gate
    from localization_core.settings import Settings
    from localization_dagster.definitions import build_definitions

    settings = Settings(LOCALIZATION_DATA_DIR=project.data)
    defs = build_definitions(settings)
    cursor = None
    for _ in range(2):
        evaluated = dg.evaluate_automation_conditions(defs, instance, cursor=cursor)
        cursor = evaluated.cursor
        for asset in ("dub_track", "sync_plan", "lipsync", "localized_video"):
            assert evaluated.get_num_requested(dg.AssetKey(asset)) == 0, asset
    status = project.run("status", VIDEO)
    assert "awaiting review" in status.stdout and "localize approve talk --to en" in status.stdout
    shown = _graphql(webserver, CHECK_QUERY)["assetCheckExecutions"]
    assert shown and shown[0]["evaluation"]["partition"] == KEY
    assert shown[0]["status"] == "FAILED"
    assert shown[0]["evaluation"]["description"].startswith("awaiting review")


VALIDATE = """query($selector: PipelineSelector!, $config: RunConfigData!) {
  isPipelineConfigValid(pipeline: $selector, runConfigData: $config, mode: "default") {
    __typename } }"""
UI_CONFIG = {
    "ops": {"translation_review": {"config": {"approve": True, "reviewer": "ui-reviewer"}}}
}
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"


def _graphql_vars(port: int, query: str, **variables: Any) -> dict[str, Any]:
    reply = httpx.post(f"http://127.0.0.1:{port}/graphql",
                       json={"query": query, "variables": variables}, timeout=60)  # fmt: skip
    assert reply.status_code == 200, reply.text[:2000]
    data: dict[str, Any] = reply.json()["data"]
    return data


@pytest.fixture(scope="module")
def ui_approval(project: Project, webserver: int) -> str:
    """What the README's clicks do: the launchpad validates the run config `approve: true` for
    `translation_review` (asked here through the webserver's GraphQL, as the launchpad asks),
    then the run materializes the gate with it (run here in process: the CLI's instance queues
    runs for a daemon, which `localize ui` starts)."""
    entries = _graphql(webserver, LOCATIONS)["workspaceOrError"]["locationEntries"]
    selector = {
        "repositoryLocationName": entries[0]["name"],
        "repositoryName": "__repository__",
        "pipelineName": "localization_stages",
        "assetSelection": [{"path": ["translation_review"]}],
    }
    checked = _graphql_vars(webserver, VALIDATE, selector=selector, config=UI_CONFIG)
    assert checked["isPipelineConfigValid"]["__typename"] == "PipelineConfigValidationValid"
    wrong = {"ops": {"translation_review": {"config": {"approve": "yes please"}}}}
    refused = _graphql_vars(webserver, VALIDATE, selector=selector, config=wrong)
    assert refused["isPipelineConfigValid"]["__typename"] == "RunConfigValidationInvalid"

    from localization_core.settings import Settings
    from localization_dagster.definitions import build_definitions
    from localization_dagster.runner import materialize

    defs = build_definitions(Settings(LOCALIZATION_DATA_DIR=project.data))
    return materialize(defs, project.instance(), ["translation_review"], KEY, config=UI_CONFIG)


def test_the_ui_approves_with_the_run_config(
    project: Project, webserver: int, ui_approval: str
) -> None:
    shown = _graphql(webserver, CHECK_QUERY)["assetCheckExecutions"]
    assert shown[0]["status"] == "SUCCEEDED" and shown[0]["evaluation"]["partition"] == KEY
    instance = project.instance()
    gate = instance.fetch_materializations(dg.AssetKey("translation_review"), limit=10).records
    assert [record.run_id for record in gate] == [ui_approval]
    assert _materialized(instance, "dub_track") == 0, "the CLI test carries it on, not the UI"


@pytest.fixture(scope="module")
def approved(project: Project, ui_approval: str) -> subprocess.CompletedProcess[str]:
    assert project.instance().get_run_by_id(ui_approval) is not None, "approved in the UI"
    done = project.run("approve", VIDEO, "--to", "en", "--by", "ana")
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_approval_lets_the_rest_run_to_a_delivery(
    project: Project, approved: subprocess.CompletedProcess[str]
) -> None:
    assert "talk -> en is approved already" in approved.stdout
    assert "output:" in approved.stdout
    report = json.loads((project.data / "storage/outputs/talk/en/report.json").read_text())
    assert report["review"]["policy"] == "required"
    assert report["review"]["note"] == "approved by ui-reviewer"
    assert len(project.artifact("translation_review")["translation"]["lines"]) >= 3
    assert report["subtitles"]["burned"] is True, report["subtitles"]
    output = project.data / "storage/outputs/talk/en/talk.en.mp4"
    assert media.frame_times(output) == media.frame_times(project.data.parent / "talk.mp4")


def _rows(project: Project, name: str) -> list[list[str]]:
    path = project.data.parent / name
    exported = project.run("edit", VIDEO, "--to", "en", "--export", str(path))
    assert exported.returncode == 0, exported.stderr
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _write(project: Project, name: str, rows: list[list[str]]) -> Path:
    path = project.data.parent / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


@pytest.fixture(scope="module")
def text_edit(project: Project, approved: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Export the review file, change the text of the first and last line, submit it."""
    plan_before = SyncPlan.model_validate(project.artifact("sync_plan"))
    calls_before, cache_before = len(project.calls_made()), project.tts_cache()
    rows = _rows(project, "review.csv")
    header, lines = rows[0], rows[1:]
    assert header == ["id", "start", "end", "speaker", "source_text", "translation"]
    lines[0][5], lines[-1][5] = NEW_TEXTS
    done = project.run("edit", VIDEO, "--to", "en", str(_write(project, "edited.csv", rows)))
    assert done.returncode == 0, done.stdout + done.stderr
    return {
        "stdout": done.stdout,
        "ids": [int(lines[0][0]), int(lines[-1][0])],
        "plan_before": plan_before,
        "calls": project.calls_made()[calls_before:],
        "synthesized": project.tts_cache() - cache_before,
    }


def test_a_text_edit_redoes_only_its_lines_and_windows(
    project: Project, text_edit: dict[str, Any], tiny_en: Transcriber
) -> None:
    ids = text_edit["ids"]
    assert f"lines {ids[0]}, {ids[1]} changed" in text_edit["stdout"]
    assert len(text_edit["synthesized"]) == 2, "TTS spoke the two edited lines only"
    dub = DubTrack.model_validate(project.artifact("dub_track"))
    assert [fit.id for fit in dub.lines if not fit.cached] == ids
    assert sum(fit.cached for fit in dub.lines) == len(dub.lines) - 2
    before = {w.index: w.cache_key for w in text_edit["plan_before"].windows if w.mode == "sync"}
    plan = SyncPlan.model_validate(project.artifact("sync_plan"))
    changed = [
        w.index for w in plan.windows if w.mode == "sync" and before.get(w.index) != w.cache_key
    ]
    called = sorted({call["window"] for call in text_edit["calls"]})
    assert changed and called == changed, (called, changed)
    lipsync = LipSync.model_validate(project.artifact("lipsync"))
    cached = [s.index for s in lipsync.segments if s.status == "cached"]
    assert sorted(cached + changed) == sorted(before), "every other window is a cache hit"
    print(f"{len(changed)} of {len(before)} windows re-synced, {len(text_edit['calls'])} calls")
    srt = (project.data / "storage/outputs/talk/en/talk.en.srt").read_text()
    flat = " ".join(srt.split())
    for text in NEW_TEXTS:
        assert text in flat or all(word in words(flat) for word in words(text)), text
    voice = project.data / "storage" / dub.voice_key
    samples, rate = soundfile.read(voice, dtype="float32")
    for fit, text in zip([f for f in dub.lines if f.id in ids], NEW_TEXTS, strict=True):
        piece = project.data.parent / f"line-{fit.id}.wav"
        part = samples[int(fit.slot.start * rate) : int((fit.slot.end + 0.5) * rate)]
        soundfile.write(piece, part, rate)
        heard = " ".join(line.text for line in tiny_en.transcribe(piece, language="en").lines)
        expected = words(text) - {"the", "is", "are", "to", "we"}
        assert len(expected & words(heard)) >= len(expected) - 1, (heard, text)


def test_a_timing_edit_re_synthesizes_nothing_and_keeps_other_lines_bytes(
    project: Project, text_edit: dict[str, Any]
) -> None:
    dub_before = DubTrack.model_validate(project.artifact("dub_track"))
    voice = project.data / "storage" / dub_before.voice_key
    samples_before, rate = soundfile.read(voice, dtype="float32")
    cache_before = project.tts_cache()
    rows = _rows(project, "timing.csv")
    first = rows[1]
    first[1] = f"{float(first[1]) + 0.2:.3f}"  # line 1 starts 0.2 s later; its text is kept
    done = project.run("edit", VIDEO, "--to", "en", str(_write(project, "retimed.csv", rows)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert project.tts_cache() == cache_before, "no line was synthesized"
    dub = DubTrack.model_validate(project.artifact("dub_track"))
    assert all(fit.cached for fit in dub.lines if fit.action != "empty")
    samples, _ = soundfile.read(project.data / "storage" / dub.voice_key, dtype="float32")
    kept = [fit for fit in dub.lines if fit.id != int(first[0])]
    assert len(kept) >= 2
    for index, fit in enumerate(dub.lines):
        if fit.id == int(first[0]) or index == 0:
            continue
        following = dub.lines[index + 1].slot.start if index + 1 < len(dub.lines) else None
        begin = int(fit.slot.start * rate)
        end = int(following * rate) if following else len(samples)
        assert np.array_equal(samples[begin:end], samples_before[begin:end]), fit.id
    moved = dub.lines[0]
    assert moved.slot.start == pytest.approx(dub_before.lines[0].slot.start + 0.2, abs=1e-3)


BAD_FILES = {
    "parse error": ("bad.csv", "line 3: end 'soon' is not a time"),
    "overlap": ("overlap.csv", "overlap"),
    "inverted times": ("inverted.csv", "not after its start"),
    "out of range": ("range.csv", "is outside the video"),
    "unknown id": ("unknown.csv", "unknown line id 99"),
    "missing id": ("missing.csv", "missing line ids"),
    "latin-1": ("latin.csv", "not UTF-8"),
}


def _bad(rows: list[list[str]], case: str) -> bytes:
    rows = [list(row) for row in rows]
    if case == "parse error":
        rows[2][2] = "soon"
    elif case == "overlap":
        rows[1][2] = rows[2][2]
    elif case == "inverted times":
        rows[1][1], rows[1][2] = rows[1][2], rows[1][1]
    elif case == "out of range":
        rows[-1][2] = "99.000"
    elif case == "unknown id":
        rows.append(["99", "22.500", "22.900", "S1", "", "Extra."])
    elif case == "missing id":
        del rows[2]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    text = buffer.getvalue()
    if case == "latin-1":
        return text.replace(rows[1][5], "Très bien.").encode("latin-1")
    return text.encode()


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_malformed_edit_is_refused_whole_and_changes_nothing(
    project: Project, text_edit: dict[str, Any], case: str
) -> None:
    name, problem = BAD_FILES[case]
    rows = list(csv.reader(io.StringIO((project.data.parent / "review.csv").read_text())))
    raw = _bad(rows, case)
    before = project.snapshot()
    storage = LocalStorage(project.data / "storage")
    with pytest.raises(Exception) as caught:
        submit_file(storage, VIDEO, "en", raw, name)
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and problem in message and "\n" not in message
    assert project.snapshot() == before, "nothing stored"


def test_the_cli_refuses_a_malformed_edit_in_one_line(
    project: Project, text_edit: dict[str, Any]
) -> None:
    rows = list(csv.reader(io.StringIO((project.data.parent / "review.csv").read_text())))
    path = project.data.parent / "overlap.csv"
    path.write_bytes(_bad(rows, "overlap"))
    runs = len(project.instance().get_runs())
    refused = project.run("edit", VIDEO, "--to", "en", str(path))
    assert refused.returncode == 1
    assert (
        refused.stderr.startswith("error: overlap.csv: lines ") and refused.stderr.count("\n") == 1
    )
    assert len(project.instance().get_runs()) == runs, "no run started"


def test_turning_burn_in_off_redoes_only_the_delivery(
    project: Project, text_edit: dict[str, Any]
) -> None:
    done = project.run("run", VIDEO, "--to", "en", "--no-burn-subtitles")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "localized_video is stale: the burn-in choice changed" in done.stdout
    assert "✓ localized_video" in done.stdout and "✓ dub_track" not in done.stdout
    report = json.loads((project.data / "storage/outputs/talk/en/report.json").read_text())
    assert report["subtitles"]["burned"] is False
