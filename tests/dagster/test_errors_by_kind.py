"""Errors by kind: only a GPU service's transient error is retried (with backoff, then one clear
line); everything else fails once. Environment problems reach the user as one line, no
traceback: a read-only storage or data dir, a too-long path."""

from __future__ import annotations

import contextlib
import errno
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from localization_core.errors import (
    GpuServiceError,
    InvalidInputError,
    LipSyncError,
    TaskCancelledError,
)
from tests.conftest import media_file
from tests.kill_harness import localize

RETRIED = dg.DagsterEventType.STEP_UP_FOR_RETRY


def run_failing(error: Exception) -> dg.ExecuteInProcessResult:
    from localization_dagster.assets.common import stage

    @dg.asset
    def failing() -> None:
        with stage("failing"):
            raise error

    return dg.materialize([failing], raise_on_error=False)


def failure_of(result: dg.ExecuteInProcessResult) -> dg.Failure:
    (event,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = event.step_failure_data
    assert data is not None and data.user_failure_data is not None
    user = data.user_failure_data
    return dg.Failure(description=user.description, metadata=user.metadata)


def retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(event.event_type == RETRIED for event in result.all_events)


def test_a_transient_service_error_is_retried_with_backoff_then_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from localization_dagster.assets import common

    monkeypatch.setattr(common, "BACKOFF_S", 0.05)
    result = run_failing(GpuServiceError("tts service answered 503"))
    assert retries(result) == common.TRANSIENT_RETRIES
    failure = failure_of(result)
    assert failure.description == "gave up after 3 retries: tts service answered 503"
    assert failure.metadata["error"].value == "GpuServiceError"


@pytest.mark.parametrize(
    ("error", "line", "kind"),
    [
        (OSError(errno.EROFS, "Read-only file system", "/data/storage/x.json"),
         "read-only file system: /data/storage/x.json", "OSError"),
        (KeyError("speaker"), "KeyError: 'speaker'", "KeyError"),
        (ValueError(), "ValueError", "ValueError"),
    ],
)  # fmt: skip
def test_every_other_error_fails_once_with_one_line(error: Exception, line: str, kind: str) -> None:
    started = time.monotonic()
    result = run_failing(error)
    assert not result.success and retries(result) == 0
    failure = failure_of(result)
    assert failure.description == line
    assert failure.metadata["stage"].value == "failing"
    assert failure.metadata["error"].value == kind
    assert time.monotonic() - started < 10


def test_a_cancellation_is_not_turned_into_a_failure() -> None:
    from localization_dagster.assets.common import stage

    with pytest.raises(TaskCancelledError), stage("x"):
        raise TaskCancelledError("terminated by the operator")


def test_a_failure_names_the_part_of_the_stage_and_the_fix() -> None:
    from localization_dagster.assets.common import stage

    with pytest.raises(dg.Failure) as failed, stage("lipsync", "segment 3 [1.00-2.00 s]"):
        raise LipSyncError("Face not detected")
    assert failed.value.description == "segment 3 [1.00-2.00 s]: Face not detected"
    assert failed.value.metadata["component"].value == "lipsync"
    with pytest.raises(dg.Failure) as refused, stage("source_video"):
        raise InvalidInputError("notes.mp4: not readable media")
    assert str(refused.value.metadata["fix"].value).startswith("fix the input")


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` as a read-only bind mount of itself (root with mount rights, as on the CI
    machine kind: root ignores file permissions, so chmod cannot make a disk read-only)."""
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True, timeout=30)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True, timeout=30)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True, timeout=30)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stdout + proc.stderr
    return proc.stderr


def test_read_only_storage_fails_once_fast_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clip = media_file("talking_head_square_25fps.mp4")
    added = localize(data, "add", str(clip), "--to", "en", "--from", "fr", "--id", "ro")
    assert added.returncode == 0, added.stderr
    with read_only(data / "storage"):
        failed = localize(data, "run", "ro", "--to", "en")
    line = one_line(failed)
    assert line.startswith("error: source_video: read-only file system: "), line
    assert str(data / "storage") in line
    assert "retry" not in failed.stdout.lower()
    # the run itself (not the CLI's interpreter start, which a busy machine stretches) fails
    # within 10 s, with no step retried
    instance = dg.DagsterInstance.from_config(str(data / "dagster"))
    (record,) = instance.get_run_records(limit=1)
    assert record.dagster_run.status == dg.DagsterRunStatus.FAILURE
    assert record.start_time is not None and record.end_time is not None
    assert record.end_time - record.start_time < 10, record.end_time - record.start_time
    retried = instance.all_logs(
        record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
    )
    assert retried == []


def test_read_only_data_dir_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with read_only(data):
        failed = localize(data, "status")
    assert "read-only file system" in one_line(failed)


def test_a_path_too_long_is_one_line(tmp_path: Path) -> None:
    long = tmp_path / ("x" * 300 + ".mp4")
    failed = localize(tmp_path / "data", "add", str(long), "--to", "en", "--from", "fr")
    assert "file name too long" in one_line(failed)
