"""Bad input stops at source_video with one clear line (CLI) and a non-retried Failure (run);
nothing reaches the outputs. Refused languages never reach a run; no speech still delivers."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from localization_core.settings import Settings
from localization_dagster.cli import app
from tests.conftest import ffmpeg, media_file

BAD = {
    "empty.mp4": "empty",
    "notes.mp4": "not",
    "silent-picture.mp4": "no audio stream",
    "voice-only.mp4": "audio only",
    "cut-short.mp4": "",
    "half-second.mp4": "too short (0.52 s; at least 1 s, min_duration_s)",
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file per kind of bad input a user uploads."""
    root = tmp_path_factory.mktemp("bad")
    files = {name: root / name for name in BAD}
    files["empty.mp4"].write_bytes(b"")
    files["notes.mp4"].write_text("meeting notes, not a video\n" * 40)
    picture = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3"]
    tone = ["-f", "lavfi", "-i", "sine=f=300:d=3"]
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    ffmpeg(*picture, *h264, str(files["silent-picture.mp4"]))
    ffmpeg(*tone, "-c:a", "aac", str(files["voice-only.mp4"]))
    full = root / "full.mp4"
    ffmpeg(*picture, *tone, *h264, "-c:a", "aac", "-movflags", "+faststart", str(full))
    ffmpeg(*picture, *tone, *h264, "-c:a", "aac", "-t", "0.5", str(files["half-second.mp4"]))
    data = full.read_bytes()
    files["cut-short.mp4"].write_bytes(data[: len(data) * 2 // 5])
    return files


def outputs(settings: Settings) -> list[Path]:
    root = settings.storage_root / "outputs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("name", list(BAD))
def test_cli_reports_bad_input_in_one_line(
    project: Settings, bad_files: dict[str, Path], name: str
) -> None:
    result = CliRunner().invoke(app, ["run", str(bad_files[name]), "--to", "en", "--from", "fr"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: source_video: "), lines[0]
    assert BAD[name] in lines[0].lower()
    assert "Traceback" not in result.output + result.stderr
    assert outputs(project) == []


@pytest.mark.parametrize("name", list(BAD))
def test_dagster_run_fails_at_source_video_without_retry(
    project: Settings, bad_files: dict[str, Path], name: str
) -> None:
    from localization_dagster.definitions import current
    from localization_dagster.registration import register
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import RunFailedError, materialize, open_instance

    rt = toolkit()
    instance = open_instance(rt.settings)
    record = register(rt, instance, bad_files[name], targets=["en"], detect=False)
    with pytest.raises(RunFailedError) as failed:
        materialize(current(), instance, ["source_video", "stems"], record.video_id)
    assert failed.value.stage == "source_video"

    run = instance.get_run_by_id(failed.value.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    records = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    assert [r.step_key for r in records] == ["source_video"]
    data = records[0].dagster_event.step_failure_data  # type: ignore[union-attr]
    assert data is not None and data.user_failure_data is not None
    assert data.user_failure_data.metadata["stage"].value == "source_video"
    assert data.user_failure_data.metadata["error"].value == "InvalidInputError"
    retried = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert retried == []
    assert outputs(project) == []


def test_refused_languages_never_reach_a_run(project: Settings) -> None:
    clip = media_file("talking_head_square_25fps.mp4")  # English
    runner = CliRunner()
    same = runner.invoke(app, ["add", str(clip), "--to", "en", "--from", "en"])
    detected = runner.invoke(app, ["add", str(clip), "--to", "en"])
    unsupported = runner.invoke(app, ["add", str(clip), "--to", "de", "--from", "fr"])
    not_a_code = runner.invoke(app, ["add", str(clip), "--to", "english"])
    for result, fragment in (
        (same, "already in 'en'"),
        (detected, "already in 'en' (detected)"),
        (unsupported, "translator 'whisper' cannot produce 'de' (it produces: en)"),
        (not_a_code, "'english' is not a language code"),
    ):
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
    from localization_dagster.runner import open_instance

    instance = open_instance(project)
    assert instance.get_dynamic_partitions("videos") == []
    assert instance.get_runs() == []


def test_a_language_added_in_dagster_that_cannot_be_produced_fails_translation(
    project: Settings, french_face_clip: Path
) -> None:
    """Ops add languages in the UI without the CLI's check: the run refuses them clearly."""
    from localization_dagster.definitions import current
    from localization_dagster.runner import RunFailedError, materialize, open_instance
    from tests.e2e.conftest import run_video_level

    video_id = run_video_level(french_face_clip, ["en"])
    instance = open_instance(project)
    for lang, message in (("de", "cannot produce 'de'"), ("fr", "already in 'fr'")):
        instance.add_dynamic_partitions("languages", [lang])
        key = dg.MultiPartitionKey({"video": video_id, "lang": lang})
        with pytest.raises(RunFailedError) as failed:
            materialize(current(), instance, ["translation"], key)
        assert failed.value.stage == "translation" and message in str(failed.value)
    assert outputs(project) == []


def test_video_without_speech_delivers_the_source_picture_and_says_so(
    project: Settings, tmp_path: Path
) -> None:
    clip = tmp_path / "music-only.mp4"
    ffmpeg(
        "-i", str(media_file("talking_head_square_25fps.mp4")),
        "-f", "lavfi", "-i", "sine=f=220:d=5,volume=0.05",
        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-shortest", str(clip),
    )  # fmt: skip
    result = CliRunner().invoke(app, ["run", str(clip), "--to", "en", "--from", "fr"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "no speech found" in result.output
    from tests.e2e.conftest import Delivery, duration_of

    folder = project.storage_root / "outputs" / "music-only" / "en"
    delivery = Delivery(folder / "music-only.en.mp4")
    report = delivery.report
    assert report["speech"] is False and "no speech" in report["note"]
    assert report["isochrony"]["totals"]["lines"] == 0
    assert report["sync"]["frames_sent_to_engine"] == 0
    audio = [s for s in delivery.streams() if s["codec_type"] == "audio"]
    assert len(audio) == 1, "only the original sound: there is nothing to dub"
    assert abs(duration_of(delivery.video, "v") - duration_of(clip, "v")) <= 1 / 25
    assert delivery.decode_errors() == ""


def test_a_video_that_failed_as_not_media_can_be_removed(
    project: Settings, bad_files: dict[str, Path]
) -> None:
    from localization_dagster.runner import open_instance

    runner = CliRunner()
    failed = runner.invoke(app, ["run", str(bad_files["notes.mp4"]), "--to", "en", "--from", "fr"])
    assert failed.exit_code == 1
    instance = open_instance(project)
    assert instance.get_dynamic_partitions("videos") == ["notes"]
    stored = [p for p in project.storage_root.rglob("*") if p.is_file()]
    assert stored, "the upload and its record are stored"

    removed = runner.invoke(app, ["remove", "notes"])
    assert removed.exit_code == 0, removed.output
    assert removed.output.startswith("removed notes: ")
    assert instance.get_dynamic_partitions("videos") == []
    assert [p for p in project.storage_root.rglob("*") if p.is_file()] == []
    assert "no videos registered" in runner.invoke(app, ["status"]).output
    again = runner.invoke(app, ["remove", "notes"])
    assert again.exit_code == 1 and "not registered" in again.stderr
