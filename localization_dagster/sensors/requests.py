"""The localization request sensor: starts exactly the (video, language) pairs the catalog asks
for, once the video's transcript exists, and nothing else. It translates; eager automation then
carries the pair to delivery (a new pair's translation is the one step automation never starts).

Languages are one global partition dimension, so eager automation alone would localize every
video into every language the moment one video asks for it. Here ``translation`` is automated
only where it already exists (``REQUESTED_ONLY``); new pairs start from this sensor, which reads
what each catalog record requests. A target that is the video's spoken language is not
applicable: it is skipped and said in the sensor's log and in `localize status`, never run and
never failed.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

from localization_core.catalog import VideoRecord, check_language, list_records
from localization_core.errors import InvalidInputError
from localization_dagster.partitions import languages, latest_materialization
from localization_dagster.resources import StorageResource
from localization_dagster.runner import VIDEO_ASSETS

LOCALIZATION_STAGES = "localization_stages"
TRANSLATION = dg.AssetKey("translation")


@dataclass(frozen=True)
class Transcribed:
    """The latest transcript of a video: its data version and spoken language."""

    version: str
    language: str


def transcribed(instance: dg.DagsterInstance, video: str) -> Transcribed | None:
    """The video's latest transcript, or None before it exists."""
    record = latest_materialization(instance, "transcript", video)
    if record is None or record.asset_materialization is None:
        return None
    language = record.asset_materialization.metadata.get("language")
    return Transcribed(str(record.storage_id), str(language.value) if language else "")


def video_level_settled(instance: dg.DagsterInstance, video: str) -> bool:
    """Every video-level asset of ``video`` exists and no run is still working on the video:
    a localization started earlier would read a face track or stems a moment before they are
    written (failing), or see them change under it (automation would then redo it)."""
    for asset in VIDEO_ASSETS:
        if latest_materialization(instance, asset, video) is None:
            return False
        planned = instance.get_latest_planned_materialization_info(dg.AssetKey(asset), video)
        run = instance.get_run_by_id(planned.run_id) if planned else None
        if run is not None and not run.is_finished:
            return False
    return True


def requests_for(
    instance: dg.DagsterInstance, record: VideoRecord
) -> Iterator[dg.RunRequest | str]:
    """Run requests for the record's requested pairs that were never localized (a run key per
    transcript, so each is requested once) once the video level has settled, and a line for
    each pair that does not apply."""
    transcript = transcribed(instance, record.video_id)
    if transcript is None or not video_level_settled(instance, record.video_id):
        return
    for target in record.targets:
        key = dg.MultiPartitionKey({"video": record.video_id, "lang": target})
        if target == transcript.language:
            yield f"{key}: not applicable, {record.video_id} is already in {target!r}"
            continue
        if latest_materialization(instance, "translation", str(key)) is not None:
            continue
        yield dg.RunRequest(
            run_key=f"{key}:{transcript.version}",
            partition_key=str(key),
            # the translation only: automation carries the rest forward in one run of its own.
            # A run it did not request is not "handled" for the stages after translation, so
            # under the daemon a tick during such a run could take them for not yet done and
            # redo them (seen: dub_track and the delivery twice); its own runs are.
            asset_selection=[TRANSLATION],
            tags={"localize/trigger": "request"},
        )


def unusable_languages(instance: dg.DagsterInstance) -> Iterator[tuple[str, str]]:
    """Language partitions that are not language codes (added by hand in the UI), each with
    the line that says why nothing will run for it."""
    for code in instance.get_dynamic_partitions(languages.name or "languages"):
        try:
            check_language(code)
        except InvalidInputError as exc:
            yield code, f"language partition {exc}; nothing is localized into it"


def build_request_sensor(interval_s: int) -> dg.SensorDefinition:
    """The sensor, evaluating every ``interval_s`` seconds (RUNNING by default)."""

    @dg.sensor(
        name="localization_requests",
        job_name=LOCALIZATION_STAGES,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Starts the localization of each (video, language) pair the catalog requests, once "
            "the video is transcribed; pairs nobody asked for never run."
        ),
    )
    def localization_requests(
        context: dg.SensorEvaluationContext, storage: StorageResource
    ) -> dg.SensorResult:
        reported = set(json.loads(context.cursor or "[]"))
        for code, problem in unusable_languages(context.instance):
            if code not in reported:
                context.log.warning(problem)
                reported.add(code)
        requests: list[dg.RunRequest] = []
        for record in list_records(storage.backend()):
            for item in requests_for(context.instance, record):
                if isinstance(item, dg.RunRequest):
                    requests.append(item)
                else:
                    context.log.info(item)
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(sorted(reported)))

    return localization_requests
