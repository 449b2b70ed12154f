"""`lipsync`: lip-sync one window at a time through the segment store, then composite."""

from __future__ import annotations

import time
from fractions import Fraction

from localization_core import media
from localization_core.artifacts import DubTrack, LipSync, SegmentResult, SourceVideo, SyncWindow
from localization_core.cache import SegmentStore
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.workspace import Workspace


def segment_store(workspace: Workspace) -> SegmentStore:
    """Where finished window clips live, by cache key (survives runs and evictions)."""
    return SegmentStore(workspace.storage, "segments/lipsync", ".mp4")


def sync_window(
    workspace: Workspace,
    *,
    source: SourceVideo,
    dub: DubTrack,
    window: SyncWindow,
    engine: LipSyncer,
    force: bool = False,
) -> SegmentResult:
    """Run the engine on one window unless its result is already stored. A dub-only window, or
    any window of an engine that changes no frame, costs nothing: no cut, no encode, no store."""
    base = {
        "index": window.index,
        "start": window.start,
        "end": window.end,
        "cache_key": window.cache_key,
        "engine": engine.name,
    }
    if window.mode == "dub_only" or not engine.changes_frames:
        return SegmentResult(**base, status="dub_only")
    store = segment_store(workspace)
    if store.has(window.cache_key) and not force:
        return SegmentResult(**base, key=store.key_for(window.cache_key), status="cached")
    started = time.monotonic()
    scratch = workspace.scratch_dir("lipsync", source.video_id, dub.language, str(window.index))
    clip = media.cut(workspace.local(source.key), scratch / "clip.mp4", window.start, window.end)
    engine_clip = media.convert_fps(clip, scratch / "engine.mp4", Fraction(engine.fps))
    audio = media.extract_speech_audio(
        workspace.local(dub.voice_key), scratch / "audio.wav", start=window.start, end=window.end
    )
    out = engine.sync(engine_clip, audio, scratch / "synced.mp4")
    stored = store.put(window.cache_key, out)
    return SegmentResult(
        **base, key=stored, status="synced", seconds=round(time.monotonic() - started, 2)
    )


def composite(source: SourceVideo, segments: list[SegmentResult], engine: LipSyncer) -> LipSync:
    """The localized picture. The ``dub_only`` engine leaves every frame as it was, so the
    source picture is the result; engines that change frames are composited by a later stage."""
    ordered = tuple(sorted(segments, key=lambda s: s.index))
    if not engine.changes_frames:
        return LipSync(video_key=source.key, segments=ordered, composited=False)
    raise NotImplementedError(f"compositing for engine {engine.name!r} arrives with that engine")
