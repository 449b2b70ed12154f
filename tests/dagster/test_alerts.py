"""Failure alerts: a failed localization posts exactly one JSON message (video, language or
video level, stage, one-line reason, link to the run) to a real loopback webhook; a failing
webhook is logged without its URL and the sensor goes on; without a webhook nothing is sent."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from typer.testing import CliRunner

from localization_core.errors import TTSGenerationError
from localization_core.settings import Settings
from localization_dagster.assets.common import stage
from localization_dagster.cli import app
from localization_dagster.partitions import localizations, videos
from localization_dagster.sensors.alerts import build_alert_sensor

TOKEN = "T0KEN-never-in-logs"
UI = "http://dagster.example:3000/"
REASON = "line 3: the voice service returned no audio"


class Webhook:
    """A loopback HTTP receiver answering each POST with the next of ``statuses`` (the last
    one repeats); every request is recorded before it is answered."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[str, int, dict[str, Any]]] = []
        self.url = ""

    def accepted(self) -> list[dict[str, Any]]:
        return [body for _, status, body in self.received if status == 200]


@contextlib.contextmanager
def webhook(statuses: list[int]) -> Iterator[Webhook]:
    state = Webhook(statuses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = state.statuses[min(len(state.received), len(state.statuses) - 1)]
            state.received.append((self.path, status, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/{TOKEN}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dg.asset(name="dub_track", partitions_def=localizations)
def failing_dub_track() -> None:
    with stage("dub_track"):
        raise TTSGenerationError(3, REASON)


@dg.asset(name="transcript", partitions_def=videos)
def failing_transcript() -> None:
    raise RuntimeError("not a localization job")


def _job(name: str, asset: dg.AssetsDefinition) -> dg.JobDefinition:
    defs = dg.Definitions(assets=[asset], jobs=[dg.define_asset_job(name)])
    return defs.resolve_job_def(name)


def _fail(
    instance: dg.DagsterInstance, job: str, asset: dg.AssetsDefinition, key: str, **tags: str
) -> str:
    result = _job(job, asset).execute_in_process(
        instance=instance, partition_key=key, raise_on_error=False, tags=tags
    )
    assert not result.success
    return result.run_id


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None) -> Any:
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        return sensor.evaluate_tick(context)


def _settings(url: str | None) -> Settings:
    return Settings(ALERT_WEBHOOK_URL=url, DAGSTER_UI_URL=UI)


def test_a_failed_localization_posts_one_message_with_stage_reason_and_link(
    project: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from localization_dagster.runner import open_instance

    caplog.set_level(logging.DEBUG)
    instance = open_instance(project)
    notes = tmp_path / "notes.mp4"
    notes.write_text("meeting notes, not a video\n" * 40)
    pair = str(dg.MultiPartitionKey({"video": "notes", "lang": "en"}))
    with webhook([503, 200]) as hook:
        sensor = build_alert_sensor(_settings(hook.url))
        cursor = _tick(sensor, instance, None).cursor  # starts after what already happened
        cli = CliRunner().invoke(app, ["run", str(notes), "--to", "en", "--from", "fr"])
        assert cli.exit_code == 1
        video_run = instance.get_runs(dg.RunsFilter(job_name="video_stages"))[0].run_id
        pair_run = _fail(instance, "localization_stages", failing_dub_track, pair)
        _fail(
            instance,
            "localization_stages",
            failing_dub_track,
            pair,
            **{"dagster/will_retry": "true"},
        )
        _fail(instance, "other_job", failing_transcript, "notes")
        for _ in range(3):
            tick = _tick(sensor, instance, cursor)
            assert tick.run_requests == []
            cursor = tick.cursor

    assert [status for _, status, _ in hook.received] == [503, 200, 200], "503 is retried"
    assert all(path == f"/hooks/{TOKEN}" for path, _, _ in hook.received)
    video_level, localization = hook.accepted()
    cli_line = cli.stderr.strip()
    assert video_level == {
        "text": f"localization failed: notes (video) at source_video: "
        f"{cli_line.removeprefix('error: source_video: ')} {UI}runs/{video_run}",
        "video": "notes",
        "language": None,
        "level": "video",
        "stage": "source_video",
        "error": cli_line.removeprefix("error: source_video: "),
        "run_id": video_run,
        "run_url": f"{UI}runs/{video_run}",
    }
    assert cli_line.startswith("error: source_video: ") and video_level["error"]
    assert localization == {
        "text": f"localization failed: notes -> en at dub_track: {REASON} {UI}runs/{pair_run}",
        "video": "notes",
        "language": "en",
        "level": "localization",
        "stage": "dub_track",
        "error": REASON,
        "run_id": pair_run,
        "run_url": f"{UI}runs/{pair_run}",
    }
    logged = caplog.text + capfd.readouterr().err  # Python logging, and the sensor's console
    assert f"alert sent for run {pair_run}" in logged
    assert TOKEN not in logged


def test_a_failing_webhook_is_logged_without_its_url_and_the_sensor_goes_on(
    project: Settings, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from localization_dagster.runner import open_instance

    caplog.set_level(logging.DEBUG)
    instance = open_instance(project)
    pair = str(dg.MultiPartitionKey({"video": "talk", "lang": "es"}))
    instance.add_dynamic_partitions("videos", ["talk"])
    instance.add_dynamic_partitions("languages", ["es"])
    with webhook([500]) as hook:
        sensor = build_alert_sensor(_settings(hook.url))
        cursor = _tick(sensor, instance, None).cursor
        run_id = _fail(instance, "localization_stages", failing_dub_track, pair)
        tick = _tick(sensor, instance, cursor)
        again = _tick(sensor, instance, tick.cursor)

    assert [status for _, status, _ in hook.received] == [500, 500, 500], "three tries"
    assert tick.cursor != cursor and again.run_requests == []
    unreachable = _fail(instance, "localization_stages", failing_dub_track, pair)
    _tick(sensor, instance, again.cursor)  # the webhook's server is gone now

    logged = caplog.text + capfd.readouterr().err
    assert f"alert for run {run_id} not delivered: HTTP 500" in logged
    assert f"alert for run {unreachable} not delivered: ConnectError" in logged
    assert TOKEN not in logged


def test_a_run_that_ended_without_a_failed_step_is_announced_with_its_reason(
    project: Settings,
) -> None:
    """E.g. a `localize` process killed mid-run: its run is marked failed, no step failed."""
    from localization_dagster.runner import open_instance

    instance = open_instance(project)
    run = dg.DagsterRun(
        job_name="localization_stages",
        run_id=str(uuid.uuid4()),
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": "es|talk", "dagster/partition/video": "talk",
              "dagster/partition/lang": "es"},
    )  # fmt: skip
    instance.add_run(run)
    with webhook([200]) as hook:
        sensor = build_alert_sensor(_settings(hook.url))
        cursor = _tick(sensor, instance, None).cursor
        instance.report_run_failed(
            run, "the localize process (pid 7) ended before this run\nfinished"
        )
        _tick(sensor, instance, cursor)

    [message] = hook.accepted()
    assert (message["video"], message["language"], message["stage"]) == ("talk", "es", "run")
    assert message["error"] == "the localize process (pid 7) ended before this run"


def test_without_a_webhook_the_sensor_does_nothing(project: Settings) -> None:
    from localization_dagster.runner import open_instance

    instance = open_instance(project)
    instance.add_dynamic_partitions("videos", ["talk"])
    instance.add_dynamic_partitions("languages", ["es"])
    sensor = build_alert_sensor(_settings(None))
    cursor = _tick(sensor, instance, None).cursor
    pair = str(dg.MultiPartitionKey({"video": "talk", "lang": "es"}))
    _fail(instance, "localization_stages", failing_dub_track, pair)
    tick = _tick(sensor, instance, cursor)
    assert tick.skip_message == "ALERT_WEBHOOK_URL is not set"
    assert tick.run_requests == []
