"""A video's stored state without running the pipeline: the objects each stage writes, under the
keys the stages use, and real runs of stand-in assets (same keys, same partitions) for the
partitions' history."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import dagster as dg

from localization_core.artifacts import SourceVideo, Stems
from localization_core.cache import SegmentStore
from localization_core.catalog import VideoRecord, record_key, save_record
from localization_core.domain import MediaProbe, SeparationResult
from localization_core.glossary import glossary_key
from localization_core.stages.lipsync import SEGMENTS
from localization_core.storage import StorageBackend
from localization_dagster.assets.video import face_cache_key
from localization_dagster.partitions import localizations, videos
from localization_dagster.runner import LOCALIZATION_ASSETS, VIDEO_ASSETS

LANGUAGES = ("es", "fr")


def digest(*parts: str) -> str:
    """A content cache key (sha256), as the stages make them."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def segment_keys(storage: StorageBackend, cache_key: str) -> tuple[str, str]:
    """The stored clip and manifest of one lip-sync window."""
    return (
        SegmentStore(storage, SEGMENTS, ".mp4").key_for(cache_key),
        SegmentStore(storage, SEGMENTS, ".json").key_for(cache_key),
    )


def envelope(type_name: str, data: dict[str, object]) -> bytes:
    """An artifact as the IO manager stores it."""
    return json.dumps({"type": type_name, "data": data}).encode()


class Writer:
    """Writes objects and remembers which ones belong to the video alone."""

    def __init__(self, storage: StorageBackend, video: str) -> None:
        self.storage = storage
        self.video = video
        self.own: set[str] = set()

    def put(self, key: str, data: bytes | None = None, *, own: bool = True) -> str:
        self.storage.write_bytes(key, data if data is not None else f"{key}\n".encode())
        if own:
            self.own.add(key)
        return key


def store_video(storage: StorageBackend, video: str, shared_segment: str | None = None) -> set[str]:
    """Write what the pipeline stores for ``video`` in two languages; returns the keys that
    belong to this video alone (``shared_segment``, a window both videos use, is not one)."""
    w = Writer(storage, video)
    upload = w.put(f"uploads/{video}.mp4")
    w.put(f"uploads/2026-11-30/{video}.mp4")  # an earlier day's copy of the same video
    record = VideoRecord(
        video_id=video, upload_key=upload, filename=f"{video}.mp4", etag="e1", targets=LANGUAGES
    )
    save_record(storage, record)
    w.own.add(record_key(video))
    w.put(glossary_key(video), b"source,target\nhello,hola\n")
    for name in ("source.mp4", "transcript-review.json", "voice/S1.wav"):
        w.put(f"videos/{video}/{name}")
    stems = {n: w.put(f"videos/{video}/stems/{n}.wav") for n in ("vocals", "background", "speech")}
    source = SourceVideo(
        video_id=video, key=f"videos/{video}/source.mp4", filename=f"{video}.mp4",
        version=digest("content", video), probe=MediaProbe(duration=5.0, has_video=True),
    )  # fmt: skip
    w.put(
        f"artifacts/source_video/{video}.json",
        envelope("SourceVideo", source.model_dump(mode="json")),
    )
    w.put(face_cache_key(source.version), b'{"fps": 25.0}')
    separation = SeparationResult(vocals_path=stems["vocals"], background_path=stems["background"])
    made = Stems(
        vocals_key=stems["vocals"], background_key=stems["background"],
        speech_key=stems["speech"], separation=separation,
    )  # fmt: skip
    w.put(f"artifacts/stems/{video}.json", envelope("Stems", made.model_dump(mode="json")))
    for asset in VIDEO_ASSETS:
        if asset not in ("source_video", "stems"):
            w.put(f"artifacts/{asset}/{video}.json", envelope(asset, {}))
    for lang in LANGUAGES:
        _store_localization(w, lang, shared_segment)
    return w.own


def _store_localization(w: Writer, lang: str, shared_segment: str | None) -> None:
    video = w.video
    for name in ("review.json", "dub/voice.wav", "dub/mix.wav", "lipsync/picture.mp4"):
        w.put(f"localizations/{video}/{lang}/{name}")
    for name in (f"{video}.{lang}.mp4", f"{video}.{lang}.srt", "report.json"):
        w.put(f"outputs/{video}/{lang}/{name}")
    w.put(f"edits/{video}/{lang}/review.csv")
    w.put(f"edits-rejected/{video}/{lang}/late.csv.1700000000")
    tts = w.put(f"cache/tts/{digest('tts', video, lang)[:2]}/{digest('tts', video, lang)}.wav")
    lines = [{"id": 1, "key": tts}]
    w.put(f"artifacts/dub_track/{video}/{lang}.json", envelope("DubTrack", {"lines": lines}))
    mine = digest("window", video, lang)
    segments: list[dict[str, object]] = []
    for key in (mine, shared_segment) if shared_segment else (mine,):
        clip, manifest = segment_keys(w.storage, key)
        w.put(clip, own=key == mine)
        w.put(manifest, own=key == mine)
        segments.append({"index": len(segments), "cache_key": key, "key": clip})
    w.put(f"artifacts/lipsync/{video}/{lang}.json", envelope("LipSync", {"segments": segments}))
    for asset in LOCALIZATION_ASSETS:
        if asset not in ("dub_track", "lipsync"):
            w.put(f"artifacts/{asset}/{video}/{lang}.json", envelope(asset, {}))


def _stand_in(names: tuple[str, ...], partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """One asset op standing in for the stages ``names`` (materializes them all)."""

    @dg.multi_asset(
        specs=[dg.AssetSpec(name, partitions_def=partitions) for name in names],
        name=f"stand_in_{names[0]}",
    )
    def stand_in() -> Iterator[dg.MaterializeResult[None]]:
        for name in names:
            yield dg.MaterializeResult(asset_key=name)

    return stand_in


VIDEO_STAND_IN = _stand_in(VIDEO_ASSETS, videos)
PAIR_STAND_IN = _stand_in(LOCALIZATION_ASSETS, localizations)


def record_history(instance: dg.DagsterInstance, video: str) -> None:
    """The video's partitions and one real run per partition that materializes its stages."""
    instance.add_dynamic_partitions("videos", [video])
    instance.add_dynamic_partitions("languages", list(LANGUAGES))
    assert dg.materialize([VIDEO_STAND_IN], instance=instance, partition_key=video).success
    for lang in LANGUAGES:
        pair = str(dg.MultiPartitionKey({"video": video, "lang": lang}))
        assert dg.materialize([PAIR_STAND_IN], instance=instance, partition_key=pair).success


def history(instance: dg.DagsterInstance, video: str) -> dict[str, int]:
    """Materializations per asset of the video's partition and pairs."""
    pairs = [str(dg.MultiPartitionKey({"video": video, "lang": lang})) for lang in LANGUAGES]
    counts = {}
    for names, partitions in ((VIDEO_ASSETS, [video]), (LOCALIZATION_ASSETS, pairs)):
        for name in names:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(name), asset_partitions=partitions),
                limit=100,
            ).records
            counts[name] = len(records)
    return counts


def snapshot(storage: StorageBackend) -> dict[str, bytes]:
    """Every stored object's bytes, by key."""
    return {info.key: storage.read_bytes(info.key) for info in storage.list("")}
