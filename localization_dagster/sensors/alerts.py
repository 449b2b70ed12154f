"""Failure alerts: one JSON message per failed localization run, POSTed to ``ALERT_WEBHOOK_URL``.

A failed run of ``video_stages`` (a video-level failure: every language of the video waits on
it) or ``localization_stages`` (one (video, language) pair) becomes one message: the video, the
language (null at video level), the stage, the one-line reason (``runner.failure_of``, as the
CLI prints it) and a link to the run in the UI (``DAGSTER_UI_URL/runs/<run_id>``). A run that
Dagster will retry (tagged ``dagster/will_retry``) is not announced: its retry is. The message
carries a ``text`` line too, so a Slack or Teams incoming webhook shows it as it is. Runs the
`localize` CLI executes in process are announced too (the sensor watches every code location:
those runs have none), whenever the daemon is up.

The webhook is retried on connection errors, 429 and 5xx with exponential backoff (tenacity,
``ATTEMPTS`` tries); a webhook that still fails is logged and the sensor goes on. The URL may
carry a token: it is never logged (httpx's own request log is kept at WARNING for that reason).
Without ``ALERT_WEBHOOK_URL`` the sensor does nothing.
"""

import logging
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
import tenacity
from pydantic import SecretStr

from localization_core.settings import Settings
from localization_dagster.runner import failure_of

JOBS = ("video_stages", "localization_stages")
WILL_RETRY_TAG = "dagster/will_retry"  # set by Dagster on a failed run it re-executes
ATTEMPTS = 3
BACKOFF_S = 0.5
TIMEOUT_S = 10.0
MAX_ERROR_CHARS = 300
# httpx logs every request with its full URL at INFO: the webhook's URL is a secret
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Alert:
    """What one failed localization run tells an operator."""

    video: str
    language: str | None
    stage: str
    error: str
    run_id: str
    run_url: str

    def payload(self) -> dict[str, Any]:
        """The JSON body: the fields, and a ``text`` line for chat webhooks."""
        scope = f"{self.video} -> {self.language}" if self.language else f"{self.video} (video)"
        return {
            "text": f"localization failed: {scope} at {self.stage}: {self.error} {self.run_url}",
            "video": self.video,
            "language": self.language,
            "level": "localization" if self.language else "video",
            "stage": self.stage,
            "error": self.error,
            "run_id": self.run_id,
            "run_url": self.run_url,
        }


def _one_line(text: str) -> str:
    line = (text.strip().splitlines() or ["failed"])[0]
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 3] + "..."


def _why(instance: dg.DagsterInstance, run: dg.DagsterRun, fallback: str) -> tuple[str, str]:
    """(stage, one-line reason) of a failed run: its failed blocking check or step, else the
    run's own failure message (a run ended by run monitoring has no failed step)."""
    kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    records = instance.all_logs(run.run_id, of_type=kinds)
    failed = failure_of([r.dagster_event for r in records if r.dagster_event], run.run_id)
    if failed is None:
        return "run", _one_line(fallback)
    return failed.stage, _one_line(str(failed).removeprefix(f"{failed.stage}: "))


def alert_of(
    instance: dg.DagsterInstance, run: dg.DagsterRun, fallback: str, ui_url: str
) -> Alert | None:
    """The alert of a failed run, or None for a run that is not a localization (another job,
    no partition) or that Dagster will retry."""
    tags = run.tags
    video = tags.get("dagster/partition/video") or tags.get("dagster/partition")
    if run.job_name not in JOBS or not video or tags.get(WILL_RETRY_TAG) == "true":
        return None
    stage, error = _why(instance, run, fallback)
    return Alert(
        video=video,
        language=tags.get("dagster/partition/lang"),
        stage=stage,
        error=error,
        run_id=run.run_id,
        run_url=f"{ui_url.rstrip('/')}/runs/{run.run_id}",
    )


def _transient(exc: BaseException) -> bool:
    """Worth another try: no connection, a timeout, 429 or a 5xx."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


def _described(exc: BaseException) -> str:
    """The error without the URL (httpx puts it in some messages: never print them)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def post(url: str, payload: dict[str, Any], backoff_s: float = BACKOFF_S) -> None:
    """POST ``payload`` as JSON, retrying transient failures; raises the last error."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=backoff_s, max=10 * backoff_s),
        retry=tenacity.retry_if_exception(_transient),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            httpx.post(url, json=payload, timeout=TIMEOUT_S).raise_for_status()


def deliver(webhook: SecretStr, alert: Alert, log: logging.Logger) -> bool:
    """Send ``alert``; a failure (refused, unreachable, even a malformed URL) is logged
    without the URL, never raised: the sensor goes on with the next failed run."""
    try:
        post(webhook.get_secret_value(), alert.payload())
    except Exception as exc:  # any failure to deliver is logged, never raised
        log.warning(f"alert for run {alert.run_id} not delivered: {_described(exc)}")
        return False
    log.info(f"alert sent for run {alert.run_id}: {alert.video} {alert.language or ''}")
    return True


def build_alert_sensor(settings: Settings) -> dg.SensorDefinition:
    """The run-failure sensor of ``settings`` (webhook and UI address)."""
    webhook = settings.alert_webhook_url
    ui_url = settings.ui_url

    @dg.run_failure_sensor(
        name="localization_failure_alerts",
        default_status=dg.DefaultSensorStatus.RUNNING,
        # also runs without a code location: those the `localize` CLI executes in process
        monitor_all_code_locations=True,
        description="One message per failed localization run to ALERT_WEBHOOK_URL (if set).",
    )
    def localization_failure_alerts(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
        if webhook is None:
            return dg.SkipReason("ALERT_WEBHOOK_URL is not set")
        run = context.dagster_run
        alert = alert_of(context.instance, run, context.failure_event.message or "", ui_url)
        if alert is None:  # None, not a SkipReason: a skip would end the tick here
            context.log.debug(f"run {run.run_id}: not a localization, or it will be retried")
        else:
            deliver(webhook, alert, context.log)
        return None

    return localization_failure_alerts
