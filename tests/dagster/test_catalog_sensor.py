"""The catalog sensor, evaluated with its resources on a real instance and local storage: a
manifest of 5 videos x 2 languages with 3 localizations done requests exactly the 7 others,
paced by the per-tick cap; each video starts source_video once per source version, tagged with
its manifest; a bad row is one warning, once, and never fails the tick."""

from __future__ import annotations

import dagster as dg
import pytest

from localization_core.catalog import list_records
from localization_core.settings import Settings, get_settings
from localization_dagster.resources import StorageResource, build_resources
from localization_dagster.sensors.catalog import build_catalog_sensor

VIDEOS = [f"v{i}" for i in range(1, 6)]
DONE = [("v1", "es"), ("v2", "fr"), ("v4", "es")]
MANIFEST = "video_id,source,targets,review_policy,preset\n" + "".join(
    f"{video},library/{video}.mp4,es fr,{'required' if video == 'v1' else ''},\n"
    for video in VIDEOS
)


class Catalog:
    """A project with the manifest in storage, 3 pairs translated, and the sensor's ticks."""

    def __init__(self, settings: Settings, cap: int, manifest: str = MANIFEST) -> None:
        from localization_dagster.runner import open_instance

        self.storage: StorageResource = build_resources(get_settings())["storage"]
        self.backend = self.storage.backend()
        for video in VIDEOS:  # registration does not probe the media: a few bytes will do
            self.backend.write_bytes(f"library/{video}.mp4", f"clip of {video}".encode())
        self.backend.write_bytes("manifests/spring.csv", manifest.encode())
        self.instance = open_instance(settings)
        for video, lang in DONE:
            key = dg.MultiPartitionKey({"video": video, "lang": lang})
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key="translation", partition=str(key))
            )
        self.sensor = build_catalog_sensor(30, pairs_per_tick=cap)
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult:
        """One evaluation; its partition requests are applied, as the daemon does."""
        with dg.build_sensor_context(
            instance=self.instance, resources={"storage": self.storage}, cursor=self.cursor
        ) as context:
            result = self.sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            assert isinstance(request, dg.AddDynamicPartitionsRequest)
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        return result

    def requested(self) -> set[tuple[str, str]]:
        """Every (video, language) pair the catalog records request."""
        return {(r.video_id, t) for r in list_records(self.backend) for t in r.targets}


def test_seven_of_ten_pairs_are_requested_and_each_video_starts_once(project: Settings) -> None:
    catalog = Catalog(project, cap=50)
    first = catalog.tick()
    every = {(video, lang) for video in VIDEOS for lang in ("es", "fr")}
    assert catalog.requested() == every - set(DONE)
    assert len(catalog.requested()) == 7
    starts = first.run_requests or []
    assert [(r.partition_key, r.asset_selection) for r in starts] == [
        (video, [dg.AssetKey("source_video")]) for video in VIDEOS
    ]
    assert {r.tags["localize/trigger"] for r in starts} == {"catalog"}
    assert {r.tags["localize/manifest"] for r in starts} == {"spring.csv"}
    assert catalog.instance.get_dynamic_partitions("videos") == VIDEOS
    assert sorted(catalog.instance.get_dynamic_partitions("languages")) == ["es", "fr"]
    records = {r.video_id: r for r in list_records(catalog.backend)}
    assert records["v1"].review_policy == "required" and records["v2"].review_policy is None
    assert records["v3"].upload_key == "library/v3.mp4"

    again = catalog.tick()
    assert not again.run_requests and not again.dynamic_partitions_requests, "once per version"
    assert len(catalog.requested()) == 7

    new_cut = catalog.backend.write_bytes("library/v3.mp4", b"the final cut of v3")
    changed = catalog.tick()
    assert [(r.partition_key, r.run_key) for r in changed.run_requests or []] == [
        ("v3", f"v3:{new_cut.content_md5}")
    ]
    assert starts[2].run_key != f"v3:{new_cut.content_md5}"
    assert len(catalog.requested()) == 7, "a new source version asks for no new pair"


def test_the_request_sensor_starts_the_pairs_the_catalog_sensor_marked(project: Settings) -> None:
    """One owner per launch: the catalog sensor marks, the request sensor translates."""
    from localization_dagster.runner import VIDEO_ASSETS
    from localization_dagster.sensors.requests import build_request_sensor

    catalog = Catalog(project, cap=50)
    catalog.tick()
    for asset in VIDEO_ASSETS:  # v3 and v4 prepared and transcribed (spoken: English)
        for video in ("v3", "v4"):
            catalog.instance.report_runless_asset_event(
                dg.AssetMaterialization(asset, partition=video, metadata={"language": "en"})
            )
    with dg.build_sensor_context(
        instance=catalog.instance, resources={"storage": catalog.storage}
    ) as context:
        result = build_request_sensor(30)(context)
    assert isinstance(result, dg.SensorResult)
    assert sorted(r.partition_key or "" for r in result.run_requests or []) == [
        "es|v3",
        "fr|v3",
        "fr|v4",
    ], "v4 into Spanish is done already"


def test_a_cap_of_four_pairs_per_tick_requests_four_then_three_then_none(
    project: Settings,
) -> None:
    catalog = Catalog(project, cap=4)
    marked, started = [], []
    for _ in range(3):
        before = len(catalog.requested())
        started.append(len(catalog.tick().run_requests or []))
        marked.append(len(catalog.requested()) - before)
    assert marked == [4, 3, 0]
    assert started == [4, 1, 0], "video-level starts are paced by the same cap"


def test_bad_rows_are_one_warning_each_once_and_the_good_rows_go_on(
    project: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = MANIFEST + "v6,library/v6.mp4,klingon,,\nv7,library/missing.mp4,es,,\n"
    catalog = Catalog(project, cap=50, manifest=bad)
    capfd.readouterr()
    catalog.tick()
    catalog.tick()
    logged = capfd.readouterr().err.splitlines()  # the sensor's console log
    warnings = [line.split(" - WARNING - ", 1)[1] for line in logged if " - WARNING - " in line]
    assert warnings == [
        "manifests/spring.csv:7: 'klingon' is not a language code (e.g. en, es, pt-br); "
        "row skipped",
        "manifests/spring.csv:8: source 'library/missing.mp4' is not in storage; row skipped",
    ]
    assert len(catalog.requested()) == 7
