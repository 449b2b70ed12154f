"""`localize remove VIDEO`: a video leaves the catalog, the storage and the Dagster instance.

For a source that failed as not media, or a takedown. The catalog record goes last, so a remove
interrupted half way can simply be run again. Content-addressed caches shared by identical
inputs (the face-track cache) stay; retention collects those.
"""

import json
from dataclasses import dataclass

import dagster as dg

from localization_core.catalog import check_video_id, load_record, record_key
from localization_core.storage import StorageBackend
from localization_dagster.partitions import languages, videos
from localization_dagster.resources import Toolkit
from localization_dagster.runner import LOCALIZATION_ASSETS, VIDEO_ASSETS


@dataclass(frozen=True)
class Removed:
    """What ``remove_video`` deleted."""

    objects: int
    partitions: int


def _segment_keys(storage: StorageBackend, video_id: str) -> list[str]:
    """The stored lip-sync segments the video's localizations point at."""
    keys = []
    for info in storage.list(f"artifacts/lipsync/{video_id}/"):
        data = json.loads(storage.read_bytes(info.key)).get("data", {})
        keys += [s["key"] for s in data.get("segments", []) if s.get("key")]
    return keys


def _stored_keys(storage: StorageBackend, video_id: str, upload_key: str) -> list[str]:
    """Every object of the video except its catalog record."""
    keys = [upload_key, *_segment_keys(storage, video_id)]
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


def _wipe(instance: dg.DagsterInstance, assets: tuple[str, ...], partitions: list[str]) -> None:
    """Wipe the partitions' event history where the event log supports it (Postgres does;
    SQLite does not, and there the history stays, under a partition that no longer exists)."""
    for asset in assets:
        try:
            instance.wipe_asset_partitions(dg.AssetKey(asset), partitions)
        except NotImplementedError:
            return


def remove_video(rt: Toolkit, instance: dg.DagsterInstance, video_id: str) -> Removed:
    """Delete the video's objects, its asset partitions' history and its partition."""
    record = load_record(rt.storage, check_video_id(video_id))
    deleted = sum(
        rt.storage.delete(key) for key in _stored_keys(rt.storage, video_id, record.upload_key)
    )
    langs = instance.get_dynamic_partitions(languages.name or "languages")
    pairs = [str(dg.MultiPartitionKey({"video": video_id, "lang": lang})) for lang in langs]
    _wipe(instance, VIDEO_ASSETS, [video_id])
    if pairs:
        _wipe(instance, LOCALIZATION_ASSETS, pairs)
    if instance.has_dynamic_partition(videos.name or "videos", video_id):
        instance.delete_dynamic_partition(videos.name or "videos", video_id)
    rt.storage.delete(record_key(video_id))
    return Removed(objects=deleted + 1, partitions=1 + len(pairs))
