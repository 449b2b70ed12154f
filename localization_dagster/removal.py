"""`localize remove VIDEO`: a takedown. The video leaves the storage, the Dagster instance and
the catalog; nothing of another video changes.

Storage: the upload, its own glossary and everything under the video's prefixes (``videos/``,
``localizations/``, ``outputs/``, ``edits/``, ``edits-rejected/``, its artifacts), plus the
content-addressed objects its artifacts point at (lip-sync segment clips and manifests, TTS
clips, the face-track cache entry) that no other video's artifacts point at. Translation cache
entries cannot be told apart by video; the retention job collects them by age.

Instance: every run of the video's partitions is deleted with its events and compute logs (that
is the history of the video partition and of each (video, language) pair: Dagster 1.13 cannot
wipe single partitions of an event log), then the partition. A video with a run in progress is
refused: the run would write again what was just deleted.

The catalog record goes last, so a remove interrupted half way can simply be run again.
"""

import contextlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

import dagster as dg

from localization_core.cache import SegmentStore
from localization_core.catalog import check_video_id, load_record, record_key, slugify
from localization_core.errors import InvalidInputError
from localization_core.glossary import CATALOG_KEY, glossary_key
from localization_core.stages.lipsync import SEGMENTS
from localization_core.storage import StorageBackend
from localization_dagster.assets.video import face_cache_key
from localization_dagster.orphans import ACTIVE, mark_orphans
from localization_dagster.partitions import languages, videos
from localization_dagster.resources import Toolkit
from localization_dagster.runner import LOCALIZATION_ASSETS, VIDEO_ASSETS

TAKEDOWN = "takedown/"
# the artifacts that point at shared, content-addressed objects
POINTING = ("lipsync", "dub_track", "source_video")
PARTITION_TAG = "dagster/partition"
VIDEO_DIMENSION_TAG = "dagster/partition/video"


@dataclass(frozen=True)
class Removed:
    """What ``remove_video`` deleted."""

    objects: int
    partitions: int
    runs: int = 0


def takedown_key(video_id: str) -> str:
    """The flag that asks the retention job to remove ``video_id``."""
    return f"{TAKEDOWN}{video_id}"


def owner(artifact_key: str) -> str:
    """The video of ``artifacts/<asset>/<video>.json`` or ``.../<video>/<lang>.json``."""
    return artifact_key.split("/")[2].removesuffix(".json")


def pointers(storage: StorageBackend, artifact_key: str) -> set[str]:
    """The content-addressed objects one artifact points at: segment clips and manifests
    (``lipsync``), TTS clips (``dub_track``), the face-track cache entry (``source_video``)."""
    asset = artifact_key.split("/")[1]
    data = json.loads(storage.read_bytes(artifact_key)).get("data", {})
    if asset == "lipsync":
        manifests = SegmentStore(storage, SEGMENTS, ".json")
        found = set()
        for segment in data.get("segments", []):
            if segment.get("key"):
                found.add(segment["key"])
            if segment.get("cache_key"):  # the manifest is written even when nothing synced
                found.add(manifests.key_for(segment["cache_key"]))
        return found
    if asset == "dub_track":
        return {line["key"] for line in data.get("lines", []) if line.get("key")}
    return {face_cache_key(data["version"])} if data.get("version") else set()


def uses(storage: StorageBackend) -> dict[str, set[str]]:
    """Per video, the content-addressed objects its current artifacts point at."""
    found: dict[str, set[str]] = defaultdict(set)
    for asset in POINTING:
        for info in storage.list(f"artifacts/{asset}/"):
            found[owner(info.key)] |= pointers(storage, info.key)
    return found


def _exclusive(storage: StorageBackend, video_id: str) -> set[str]:
    """The content-addressed objects only ``video_id`` points at."""
    by_video = uses(storage)
    mine = by_video.pop(video_id, set())
    return mine.difference(*by_video.values())


def _upload_copies(storage: StorageBackend, video_id: str) -> list[str]:
    """Every upload named for the video, in any day folder: copies of earlier days and
    re-uploads belong to the takedown as much as the registered one."""
    copies = []
    for info in storage.list("uploads/"):
        try:
            if slugify(PurePosixPath(info.key).name) == video_id:
                copies.append(info.key)
        except InvalidInputError:
            continue
    return copies


def _owned_keys(storage: StorageBackend, video_id: str, upload_key: str) -> list[str]:
    """Every object under the video's own keys and prefixes, except its catalog record."""
    keys = [upload_key, takedown_key(video_id), *_upload_copies(storage, video_id)]
    if glossary_key(video_id) != CATALOG_KEY:  # a video named "catalog" keeps the catalog's
        keys.append(glossary_key(video_id))
    prefixes = (
        f"videos/{video_id}/",
        f"localizations/{video_id}/",
        f"outputs/{video_id}/",
        f"edits/{video_id}/",
        f"edits-rejected/{video_id}/",
    )
    for prefix in prefixes:
        keys += [info.key for info in storage.list(prefix)]
    for asset in VIDEO_ASSETS:
        keys.append(f"artifacts/{asset}/{video_id}.json")
    for asset in LOCALIZATION_ASSETS:
        keys += [info.key for info in storage.list(f"artifacts/{asset}/{video_id}/")]
    return keys


def runs_of(instance: dg.DagsterInstance, video_id: str) -> list[dg.DagsterRun]:
    """The runs of the video's partition and of its (video, language) pairs."""
    video_runs = instance.get_runs(dg.RunsFilter(tags={PARTITION_TAG: video_id}))
    pair_runs = instance.get_runs(dg.RunsFilter(tags={VIDEO_DIMENSION_TAG: video_id}))
    return list({run.run_id: run for run in [*video_runs, *pair_runs]}.values())


def _check_idle(instance: dg.DagsterInstance, video_id: str) -> None:
    """Refuse a video with a run in progress (a dead CLI run is marked failed first)."""
    mark_orphans(instance)
    active = [run.run_id[:8] for run in runs_of(instance, video_id) if run.status in ACTIVE]
    if active:
        raise InvalidInputError(
            f"{video_id}: {len(active)} run(s) in progress ({', '.join(active)}); terminate "
            "them in the UI or wait for them to end, then remove again"
        )


def _forget(instance: dg.DagsterInstance, video_id: str) -> tuple[int, int]:
    """Delete the video's runs (events and compute logs: the partitions' history) and its
    partition; returns (runs, partitions)."""
    runs = runs_of(instance, video_id)
    for run in runs:
        instance.delete_run(run.run_id)
        with contextlib.suppress(NotImplementedError):
            instance.compute_log_manager.delete_logs(prefix=[run.run_id])
    # partition statuses are cached per asset; recomputed, they no longer count the video
    instance.wipe_asset_cached_status(
        [dg.AssetKey(name) for name in (*VIDEO_ASSETS, *LOCALIZATION_ASSETS)]
    )
    pairs = len(instance.get_dynamic_partitions(languages.name or "languages"))
    if instance.has_dynamic_partition(videos.name or "videos", video_id):
        instance.delete_dynamic_partition(videos.name or "videos", video_id)
    return len(runs), 1 + pairs


def take_down(storage: StorageBackend, instance: dg.DagsterInstance, video_id: str) -> Removed:
    """Delete the video's objects, its runs and partition history, its partition, and last its
    catalog record (``InvalidInputError`` when it is not registered or still running)."""
    record = load_record(storage, check_video_id(video_id))
    _check_idle(instance, video_id)
    shared = _exclusive(storage, video_id)  # read from the artifacts before they go
    keys = [*dict.fromkeys(_owned_keys(storage, video_id, record.upload_key)), *sorted(shared)]
    deleted = sum(storage.delete(key) for key in keys)
    runs, partitions = _forget(instance, video_id)
    storage.delete(record_key(video_id))
    return Removed(objects=deleted + 1, partitions=partitions, runs=runs)


def remove_video(rt: Toolkit, instance: dg.DagsterInstance, video_id: str) -> Removed:
    """`localize remove`: take the video down now (see ``take_down``)."""
    return take_down(rt.storage, instance, video_id)


def flag_takedown(storage: StorageBackend, video_id: str) -> str:
    """`localize remove --at-retention`: ask the next daily retention run to take the video
    down; returns the flag's key (``InvalidInputError`` when the video is not registered)."""
    load_record(storage, check_video_id(video_id))
    key = takedown_key(video_id)
    storage.write_bytes(key, b"takedown requested with localize remove --at-retention\n")
    return key
