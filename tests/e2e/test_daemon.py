"""With a real dagster-daemon, registering a video is all it takes: the upload sensor starts
source_video and declarative automation carries every later stage, each exactly once; under the
``required`` review policy it holds the pair after its translation until an approval file is
dropped into storage, then carries it on."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pytest

from localization_core.settings import Settings
from localization_dagster.runner import dagster_home, failure_of
from tests.conftest import MODELS, REPO, project_env, stop_process_group
from tests.e2e.conftest import Delivery

pytestmark = pytest.mark.slow
DEADLINE_S = 300.0  # the bound for an 8 s clip


def _problem(
    daemon: subprocess.Popen[bytes], instance: dg.DagsterInstance, started: float
) -> str | None:
    if daemon.poll() is not None:
        return "the daemon died"
    failed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    if failed:
        return f"run {failed[0].run_id} failed"
    if time.monotonic() - started > DEADLINE_S:
        return "no output within 5 minutes"
    return None


def _wait_until_quiet(instance: dg.DagsterInstance, started: float, quiet_s: float = 8.0) -> None:
    """Until every run has finished and no new one has started for ``quiet_s`` (4 intervals)."""
    seen, since = -1, time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() - started < DEADLINE_S + 60, "the runs never settled"
        runs = instance.get_runs()
        if len(runs) != seen or any(not run.is_finished for run in runs):
            seen, since = len(runs), time.monotonic()
        time.sleep(0.5)


def _summary(instance: dg.DagsterInstance, runs: Sequence[dg.DagsterRun]) -> str:
    """One line per run: its status, trigger, the assets it selected and why it failed."""
    lines = []
    for run in runs:
        selected = ",".join(sorted(key.to_user_string() for key in run.asset_selection or ()))
        trigger = run.tags.get("localize/trigger", "automation")
        events = [
            record.event_log_entry.dagster_event
            for record in instance.get_records_for_run(run.run_id).records
            if record.event_log_entry.dagster_event is not None
        ]
        why = failure_of(events, run.run_id) if run.status != dg.DagsterRunStatus.SUCCESS else None
        lines.append(f"{run.run_id[:8]} {run.status.value} {trigger} {selected} {why or ''}")
    return "\n".join(lines)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _hold_until_approved(
    instance: dg.DagsterInstance, daemon: subprocess.Popen[bytes], started: float, data: Path
) -> None:
    """The pair stops after its translation (the gate's check says it awaits review) and stays
    there through automation's next ticks; then a reviewer drops an approval file."""
    gate = dg.AssetCheckKey(dg.AssetKey("translation_review"), "approved")
    while instance.get_latest_asset_check_evaluation_record(gate) is None:
        problem = _problem(daemon, instance, started)
        assert problem is None, problem
        time.sleep(1.0)
    _wait_until_quiet(instance, started)  # 4 intervals of automation (2 s each) with no run
    record = instance.get_latest_asset_check_evaluation_record(gate)
    assert record is not None and record.evaluation is not None
    assert not record.evaluation.passed and "awaiting review" in str(record.evaluation.description)
    for name in ("translation_review", "dub_track", "localized_video"):
        assert not instance.fetch_materializations(dg.AssetKey(name), limit=1).records, name
    approval = data / "storage" / "edits" / "french-face" / "en" / "approve"
    approval.parent.mkdir(parents=True)
    approval.write_text("ops-team\n")


@pytest.mark.timeout(DEADLINE_S + 120)
def test_registering_a_video_is_enough_under_the_daemon_and_review_holds_it(
    tmp_path: Path, french_face_clip: Path
) -> None:
    data = tmp_path / "data"
    home = dagster_home(Settings(LOCALIZATION_DATA_DIR=data, LOCALIZATION_MODELS_DIR=MODELS))
    # the instance exists before the daemon starts (a deployment runs `dagster instance
    # migrate` first): two processes creating one SQLite schema at once race in alembic
    instance = dg.DagsterInstance.from_config(str(home))
    env = project_env(data, SENSOR_INTERVAL_S="2", AUTOMATION_INTERVAL_S="2")
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        started = time.monotonic()
        added = subprocess.run(
            [str(REPO / ".venv" / "bin" / "localize"), "add", str(french_face_clip), "--to", "en",
             "--review", "required"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        _hold_until_approved(instance, daemon, started, data)
        outputs = data / "storage" / "outputs" / "french-face" / "en"
        report = outputs / "report.json"  # written last: the delivery is complete
        while not report.exists():
            problem = _problem(daemon, instance, started)
            assert problem is None, f"{problem}\n{_tail(tmp_path / 'daemon.log')}"
            time.sleep(1.0)
        took = time.monotonic() - started
        # the report is the delivery's last write; its run then records its own success, and
        # whatever automation would still start shows within a few of its intervals
        _wait_until_quiet(instance, started)
    finally:
        stop_process_group(daemon, grace=20)
        log.close()

    delivery = Delivery(outputs / "french-face.en.mp4")
    assert delivery.decode_errors() == ""
    assert delivery.report["source"]["language"] == "fr"
    runs = instance.get_runs()
    summary = _summary(instance, runs)
    assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs), summary
    triggers = sorted(run.tags.get("localize/trigger", "automation") for run in runs)
    assert triggers.count("upload") == 1, "the upload sensor launches source_video once"
    assert triggers.count("review") == 1, "the edits sensor approves once"
    assert delivery.report["review"]["note"] == "approved by ops-team"
    assert not (data / "storage" / "edits" / "french-face" / "en" / "approve").exists()
    # nothing computed twice: every asset partition materialized exactly once
    for name in (
        "source_video",
        "stems",
        "transcript",
        "translation",
        "translation_review",
        "localized_video",
    ):
        records = instance.fetch_materializations(dg.AssetKey(name), limit=10).records
        assert len(records) == 1, f"{name} materialized {len(records)} times:\n{summary}"
    print(f"registered -> delivered in {took:.1f} s over {len(runs)} runs")
