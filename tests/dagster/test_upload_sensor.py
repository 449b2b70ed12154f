"""The upload sensor, evaluated with its resources: a file dropped under uploads/ is registered,
requests the languages uploads are localized into, and starts source_video once; a video
registered with `localize add` lands in today's folder and starts once, unless `localize run`
already ingested it in-process. (At scale, in Azurite: test_upload_sensor_scale.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from localization_core.catalog import load_record
from localization_core.settings import Settings, get_settings
from localization_dagster.resources import PipelineResource, build_resources
from localization_dagster.sensors.uploads import DATA_VERSION_TAG, build_upload_sensor
from tests.conftest import media_file


def test_a_dropped_file_requests_the_upload_languages_once(project: Settings) -> None:
    from localization_dagster.runner import open_instance

    resources = build_resources(get_settings())
    storage = resources["storage"]
    pipeline = PipelineResource(
        min_duration_s=1.0,
        max_duration_s=60.0,
        max_upload_bytes=10**9,
        loudness_target_lufs=-16.0,
        upload_targets=["es", "fr"],
    )
    storage.backend().upload_file("uploads/talk.mp4", media_file("talking_head_vfr.mp4"))
    sensor = build_upload_sensor(30)
    instance = open_instance(project)

    cursor = None

    def tick() -> dg.SensorResult:
        nonlocal cursor
        with dg.build_sensor_context(
            instance=instance, resources={"storage": storage, "pipeline": pipeline}, cursor=cursor
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        cursor = result.cursor
        return result

    first = tick()
    assert [r.partition_key for r in first.run_requests or []] == ["talk"]
    added = {
        request.partitions_def_name: list(request.partition_keys)
        for request in first.dynamic_partitions_requests or []
    }
    assert added == {"videos": ["talk"], "languages": ["es", "fr"]}
    assert load_record(storage.backend(), "talk").targets == ("es", "fr")
    again = tick()
    assert not again.run_requests and not again.dynamic_partitions_requests, "once"


def test_an_older_copy_in_another_folder_does_not_replace_the_newer_upload(
    project: Settings,
) -> None:
    """The same name in two day folders is one video: the copy written last is its upload,
    whichever of the two the sensor lists first."""
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import open_instance

    rt = toolkit(project)
    today = datetime.now(UTC).date().isoformat()
    older = rt.storage.write_bytes("uploads/2024-05-01/talk.mp4", b"the first cut")
    newer = rt.storage.write_bytes(f"uploads/{today}/talk.mp4", b"the final cut")
    sensor = build_upload_sensor(30)
    resources = {"storage": rt.resources["storage"], "pipeline": rt.resources["pipeline"]}

    def started() -> list[str | None]:
        """The run keys of a first tick (no cursor: every upload is looked at)."""
        instance = open_instance(project)
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return [request.run_key for request in result.run_requests or []]

    assert started() == [f"talk:{newer.content_md5}"]
    assert load_record(rt.storage, "talk").upload_key == newer.key
    rt.storage.delete(newer.key)
    assert started() == [f"talk:{older.content_md5}"], "the copy left is the upload now"
    assert load_record(rt.storage, "talk").upload_key == older.key


def test_a_registered_video_starts_once_unless_ingested_in_process(project: Settings) -> None:
    """`localize add` writes uploads/<today>/<id>.mp4 and registers it; the sensor starts its
    source_video on the next tick. A video `localize run` already ingested (its latest
    source_video carries the record's data version) is not ingested a second time."""
    from localization_dagster.registration import register
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import open_instance
    from localization_dagster.versions import source_data_version

    rt = toolkit(project)
    instance = open_instance(project)
    clip = media_file("talking_head_vfr.mp4")
    added = register(rt, instance, clip, targets=["en"], source_language="fr", video_id="added",
                     detect=False)  # fmt: skip
    ran = register(rt, instance, clip, targets=["en"], source_language="fr", video_id="ran",
                   detect=False)  # fmt: skip
    today = datetime.now(UTC).date().isoformat()
    assert added.upload_key == f"uploads/{today}/added.mp4"
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "source_video", partition="ran", tags={DATA_VERSION_TAG: source_data_version(ran)}
        )
    )
    sensor = build_upload_sensor(30)
    resources = {"storage": rt.resources["storage"], "pipeline": rt.resources["pipeline"]}
    cursor = None
    started = []
    for _ in range(2):
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=cursor
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        started += [(r.partition_key, r.run_key) for r in result.run_requests or []]
        cursor = result.cursor
    assert started == [("added", f"added:{added.version}")]


def test_a_language_that_is_no_code_is_reported_once_and_runs_nothing(project: Settings) -> None:
    from localization_dagster.runner import open_instance
    from localization_dagster.sensors.requests import build_request_sensor, unusable_languages

    instance = open_instance(project)
    instance.add_dynamic_partitions("languages", ["es", "english"])
    assert [code for code, _ in unusable_languages(instance)] == ["english"]
    (_, line) = next(iter(unusable_languages(instance)))
    assert line.startswith("language partition 'english' is not a language code")
    sensor = build_request_sensor(30)
    storage = build_resources(get_settings())["storage"]
    cursor = None
    for _ in range(2):
        with dg.build_sensor_context(
            instance=instance, resources={"storage": storage}, cursor=cursor
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult) and not result.run_requests
        cursor = result.cursor
    assert cursor == '["english"]', "said once, remembered in the cursor"


def test_a_requested_language_starts_only_once_the_video_level_has_settled(
    project: Settings,
) -> None:
    """A localization started while the video level is still running would read a face track
    a moment before it is written, or see it change under it (automation then redoes the
    lip-sync): the request waits until every video-level asset exists and no run works on it."""
    from localization_dagster.definitions import defs
    from localization_dagster.registration import register
    from localization_dagster.resources import toolkit
    from localization_dagster.runner import VIDEO_ASSETS, open_instance
    from localization_dagster.sensors.requests import build_request_sensor

    rt = toolkit(project)
    instance = open_instance(project)
    register(
        rt, instance, media_file("talking_head_vfr.mp4"), targets=["en"], source_language="fr",
        video_id="talk", detect=False,
    )  # fmt: skip
    sensor = build_request_sensor(30)

    def requested() -> list[str]:
        with dg.build_sensor_context(
            instance=instance, resources={"storage": rt.resources["storage"]}
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return [str(request.partition_key) for request in result.run_requests or []]

    def materialized(asset: str) -> None:
        metadata = {"language": "fr"} if asset == "transcript" else {}
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset, partition="talk", metadata=metadata)
        )

    for asset in ("source_video", "stems", "transcript", "voice_refs"):
        materialized(asset)
    assert requested() == [], "face_track is still missing"
    face_run = instance.create_run_for_job(
        defs.resolve_job_def("video_stages"),
        asset_selection=frozenset({dg.AssetKey("face_track")}),
        tags={"dagster/partition": "talk"},
    )
    materialized("face_track")
    assert set(VIDEO_ASSETS) == {"source_video", "stems", "transcript", "voice_refs", "face_track"}
    assert requested() == [], f"run {face_run.run_id[:8]} still works on the video"
    instance.report_run_failed(face_run)
    assert requested() == ["en|talk"]
