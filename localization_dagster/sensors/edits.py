"""The edits sensor: review files and approvals dropped into storage by reviewers.

A reviewer uploads ``edits/<video>/<lang>/<name>.csv`` (or ``.srt``), the file that
``localize edit --export`` writes, changed; or ``edits/<video>/<lang>/approve`` (its text, if
any, names the reviewer). The same under ``edits/<video>/transcript/`` reviews the video's
transcript and re-runs the translation of each requested language. An edit is checked whole:
accepted, it becomes the pair's edits and the gate is re-run; refused, nothing changes and the
file moves to ``edits-rejected/`` beside a ``.txt`` with the one-line reason. An approval is
recorded at once (of the translation as it is now) and re-runs the gate. Either way the file
leaves ``edits/``, and automation carries the pair on from the gate.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from localization_core.catalog import check_language, check_video_id, load_record
from localization_core.errors import LocalizationError
from localization_core.storage.base import ObjectInfo, StorageBackend
from localization_dagster.assets.common import describe
from localization_dagster.resources import StorageResource
from localization_dagster.review import (
    approve_pair,
    approve_video_transcript,
    machine_transcript,
    submit_file,
    submit_transcript_file,
)

EDITS = "edits/"
REJECTED = "edits-rejected/"
REVIEW = dg.AssetKey("translation_review")
TRANSLATION = dg.AssetKey("translation")
TRANSCRIPT = "transcript"  # edits/<video>/transcript/: the video's transcript gate
LOCALIZATION_STAGES = "localization_stages"


def _pair(key: str) -> tuple[str, str | None, str]:
    """(video, language or None for the transcript, file name) of
    ``edits/<video>/<lang or transcript>/<name>``."""
    parts = key[len(EDITS) :].split("/")
    if len(parts) != 3 or not parts[2]:
        raise LocalizationError(f"{key}: put review files at edits/<video>/<lang>/<file>")
    lang = None if parts[1] == TRANSCRIPT else check_language(parts[1])
    return check_video_id(parts[0]), lang, parts[2]


def _request(
    video: str, lang: str, info: ObjectInfo, asset: dg.AssetKey, config: dict[str, object] | None
) -> dg.RunRequest:
    key = dg.MultiPartitionKey({"video": video, "lang": lang})
    return dg.RunRequest(
        run_key=f"review:{key}:{info.key}:{info.etag}",
        partition_key=str(key),
        asset_selection=[asset],
        run_config=config or {},
        tags={"localize/trigger": "review"},
    )


def _is_approval(name: str) -> bool:
    return name == "approve" or name.endswith(".approve")


def _handle(storage: StorageBackend, info: ObjectInfo) -> tuple[list[dg.RunRequest], str]:
    """The gate's runs for one dropped file, and the line to log; ``LocalizationError`` when
    the file is refused."""
    video, lang, name = _pair(info.key)
    raw = storage.read_bytes(info.key)
    if lang is None:
        return _handle_transcript(storage, info, video, name, raw)
    if _is_approval(name):
        reviewer = raw.decode("utf-8", "replace").strip()[:80]
        approve_pair(storage, video, lang, reviewer)  # kept even if the gate's run is lost
        line = f"{video} -> {lang}: approved by {reviewer or 'a reviewer'}"
        return [_request(video, lang, info, REVIEW, None)], line
    changed = submit_file(storage, video, lang, raw, name)
    line = f"{video} -> {lang}: {name} accepted, lines changed: {changed or 'none'}"
    return [_request(video, lang, info, REVIEW, None)], line


def _handle_transcript(
    storage: StorageBackend, info: ObjectInfo, video: str, name: str, raw: bytes
) -> tuple[list[dg.RunRequest], str]:
    """The translations a transcript approval or edit re-runs (every requested language)."""
    spoken = machine_transcript(storage, video).language
    targets = [t for t in load_record(storage, video).targets if t != spoken]
    if _is_approval(name):
        reviewer = raw.decode("utf-8", "replace").strip()[:80]
        approve_video_transcript(storage, video, reviewer)
        line = f"{video}: transcript approved by {reviewer or 'a reviewer'}"
    else:
        changed = submit_transcript_file(storage, video, raw, name)
        line = f"{video}: {name} accepted for the transcript, lines changed: {changed or 'none'}"
    return [_request(video, t, info, TRANSLATION, None) for t in targets], line


def _reject(storage: StorageBackend, info: ObjectInfo, reason: str) -> None:
    """Move a refused file out of ``edits/`` with its reason beside it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = f"{REJECTED}{info.key[len(EDITS) :]}.{stamp}"
    storage.write_bytes(target, storage.read_bytes(info.key))
    storage.write_bytes(f"{target}.txt", f"{reason}\n".encode())
    storage.delete(info.key)


def review_requests(storage: StorageBackend) -> Iterator[tuple[list[dg.RunRequest] | None, str]]:
    """For each file under ``edits/``: the gate's runs (None when refused) and a log line."""
    for info in list(storage.list(EDITS)):
        try:
            requests, line = _handle(storage, info)
        except Exception as exc:  # a bad file is set aside, never a failed tick
            reason = str(exc) if isinstance(exc, LocalizationError) else describe(exc)
            _reject(storage, info, reason)
            yield None, f"refused {info.key}: {reason}"
            continue
        storage.delete(info.key)
        yield requests, line


def build_edits_sensor(interval_s: int) -> dg.SensorDefinition:
    """The sensor, polling ``edits/`` every ``interval_s`` seconds (RUNNING by default)."""

    @dg.sensor(
        name="review_edits",
        job_name=LOCALIZATION_STAGES,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Applies review files and approvals dropped under edits/<video>/<lang>/ in storage: "
            "a valid edit or an approval re-runs the review gate; a refused file moves to "
            "edits-rejected/ with its reason."
        ),
    )
    def review_edits(
        context: dg.SensorEvaluationContext, storage: StorageResource
    ) -> dg.SensorResult:
        requests = []
        for runs, line in review_requests(storage.backend()):
            if runs is None:
                context.log.warning(line)
            else:
                context.log.info(line)
                requests += runs
        return dg.SensorResult(run_requests=requests)

    return review_edits
