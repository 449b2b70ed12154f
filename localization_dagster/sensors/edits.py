"""The edits sensor: review files and approvals dropped into storage by reviewers.

A reviewer uploads ``edits/<video>/<lang>/<name>.csv`` (or ``.srt``), the file that
``localize edit --export`` writes, changed; or ``edits/<video>/<lang>/approve`` (its text, if
any, names the reviewer). An edit is checked whole: accepted, it becomes the pair's edits and the
gate is re-run; refused, nothing changes and the file moves to ``edits-rejected/`` beside a
``.txt`` with the one-line reason. An approval re-runs the gate with ``approve: true``. Either
way the file leaves ``edits/``, and automation carries the pair on from the gate.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from localization_core.catalog import check_language, check_video_id
from localization_core.errors import LocalizationError
from localization_core.storage.base import ObjectInfo, StorageBackend
from localization_dagster.resources import StorageResource
from localization_dagster.review import approval_config, machine_translation, submit_file

EDITS = "edits/"
REJECTED = "edits-rejected/"
REVIEW = dg.AssetKey("translation_review")
LOCALIZATION_STAGES = "localization_stages"


def _pair(key: str) -> tuple[str, str, str]:
    """(video, language, file name) of ``edits/<video>/<lang>/<name>``."""
    parts = key[len(EDITS) :].split("/")
    if len(parts) != 3 or not parts[2]:
        raise LocalizationError(f"{key}: put review files at edits/<video>/<lang>/<file>")
    return check_video_id(parts[0]), check_language(parts[1]), parts[2]


def _request(
    video: str, lang: str, info: ObjectInfo, config: dict[str, object] | None
) -> dg.RunRequest:
    key = dg.MultiPartitionKey({"video": video, "lang": lang})
    return dg.RunRequest(
        run_key=f"review:{key}:{info.key}:{info.etag}",
        partition_key=str(key),
        asset_selection=[REVIEW],
        run_config=config or {},
        tags={"localize/trigger": "review"},
    )


def _handle(storage: StorageBackend, info: ObjectInfo) -> tuple[dg.RunRequest, str]:
    """The gate's run for one dropped file, and the line to log; ``LocalizationError`` when the
    file is refused."""
    video, lang, name = _pair(info.key)
    raw = storage.read_bytes(info.key)
    if name == "approve" or name.endswith(".approve"):
        machine_translation(storage, video, lang)  # refused when there is nothing to approve
        reviewer = raw.decode("utf-8", "replace").strip()[:80]
        line = f"{video} -> {lang}: approved by {reviewer or 'a reviewer'}"
        return _request(video, lang, info, approval_config(reviewer)), line
    changed = submit_file(storage, video, lang, raw, name)
    line = f"{video} -> {lang}: {name} accepted, lines changed: {changed or 'none'}"
    return _request(video, lang, info, None), line


def _reject(storage: StorageBackend, info: ObjectInfo, reason: str) -> None:
    """Move a refused file out of ``edits/`` with its reason beside it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = f"{REJECTED}{info.key[len(EDITS) :]}.{stamp}"
    storage.write_bytes(target, storage.read_bytes(info.key))
    storage.write_bytes(f"{target}.txt", f"{reason}\n".encode())
    storage.delete(info.key)


def review_requests(storage: StorageBackend) -> Iterator[tuple[dg.RunRequest | None, str]]:
    """For each file under ``edits/``: the gate's run (None when refused) and a log line."""
    for info in list(storage.list(EDITS)):
        try:
            request, line = _handle(storage, info)
        except LocalizationError as exc:
            _reject(storage, info, str(exc))
            yield None, f"refused {info.key}: {exc}"
            continue
        storage.delete(info.key)
        yield request, line


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
        for request, line in review_requests(storage.backend()):
            if request is None:
                context.log.warning(line)
            else:
                context.log.info(line)
                requests.append(request)
        return dg.SensorResult(run_requests=requests)

    return review_edits
