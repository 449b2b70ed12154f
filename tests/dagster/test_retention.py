"""The daily retention job, on real objects with real timestamps (local storage, mtimes set
with os.utime): what no current localization uses and is older than RETENTION_DAYS goes, what
a current artifact points at or is recent stays, and flagged videos are taken down."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
from typer.testing import CliRunner

from localization_core.settings import Settings, get_settings
from localization_core.storage.local import LocalStorage
from localization_dagster.cli import app
from localization_dagster.definitions import defs
from localization_dagster.removal import runs_of
from localization_dagster.resources import build_resources
from localization_dagster.retention import retention_job
from tests.dagster.video_state import (
    digest,
    history,
    record_history,
    segment_keys,
    snapshot,
    store_video,
)

NOW = datetime.now(UTC)


def _age(storage: LocalStorage, keys: list[str], days: float) -> None:
    """Make ``keys`` last written ``days`` ago (the file's mtime is the object's age)."""
    when = (NOW - timedelta(days=days)).timestamp()
    for key in keys:
        os.utime(storage.path_for(key), (when, when))
        modified = storage.info(key).last_modified
        assert modified is not None and abs(modified.timestamp() - when) < 1e-3


def _unused(storage: LocalStorage, name: str) -> list[str]:
    """Objects no artifact points at: a segment, a TTS clip, a face-track entry, a translation
    cache entry, a superseded stem and a rejected edit."""
    clip, manifest = segment_keys(storage, digest("old window", name))
    tts = digest("old line", name)
    keys = [
        clip,
        manifest,
        f"cache/tts/{tts[:2]}/{tts}.wav",
        f"cache/face_track/{digest('old face', name)}.json",
        f"cache/translation/{tts[:2]}/{tts}.txt",
        f"videos/talk/stems/{name}-vocals.wav",
        f"edits-rejected/talk/es/{name}.csv.1700000000",
    ]
    for key in keys:
        storage.write_bytes(key, key.encode())
    return keys


def test_the_daily_job_deletes_only_what_is_old_and_unused(project: Settings) -> None:
    from localization_dagster.runner import open_instance

    storage = build_resources(get_settings())["storage"].backend()
    assert isinstance(storage, LocalStorage)
    talk = store_video(storage, "talk")
    gone = store_video(storage, "gone")
    busy = store_video(storage, "busy")
    instance = open_instance(project)
    record_history(instance, "gone")
    instance.add_run(
        dg.DagsterRun(
            job_name="video_stages",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": "busy"},
        )
    )
    old, recent = _unused(storage, "old"), _unused(storage, "recent")
    _age(storage, sorted(talk | gone | busy | set(old)), days=40)
    _age(storage, recent, days=5)
    runner = CliRunner()
    for video in ("gone", "busy"):
        flagged = runner.invoke(app, ["remove", video, "--at-retention"])
        assert flagged.exit_code == 0, flagged.output
        assert "flagged for takedown" in flagged.output
    storage.write_bytes("takedown/ghost", b"")  # a video that is not (or no longer) registered
    assert all(history(instance, "gone").values())
    before = snapshot(storage)

    result = retention_job.execute_in_process(
        instance=instance, resources={"storage": build_resources(get_settings())["storage"]}
    )

    assert result.success
    after = snapshot(storage)
    rejected = {key for key in talk | busy if key.startswith("edits-rejected/")}
    flags = {"takedown/gone", "takedown/ghost"}
    assert set(after) == set(before) - set(old) - rejected - gone - flags
    assert after == {key: before[key] for key in after}, "what stays is unchanged"
    assert talk - rejected <= set(after), "a current localization's old objects are used"
    assert (busy - rejected) | {"takedown/busy"} <= set(after), "a busy video waits"
    assert not instance.has_dynamic_partition("videos", "gone")
    assert not any(history(instance, "gone").values()) and runs_of(instance, "gone") == []
    lines = [
        e.user_message for e in instance.all_logs(result.run_id) if "retention:" in e.user_message
    ]
    assert any("took down 1 video(s) ['gone']" in line for line in lines), lines
    assert any("['busy'] wait for their runs to end" in line for line in lines), lines


def test_the_job_is_scheduled_daily_in_the_code_location() -> None:
    schedule = next(s for s in defs.schedules or [] if s.name == "retention_daily")
    assert isinstance(schedule, dg.ScheduleDefinition)
    assert schedule.cron_schedule == "0 3 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.job_name == "retention"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
