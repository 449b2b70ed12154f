"""`lipsync`: lip-sync one window at a time through the segment store, then composite.

A window's clip is cut from the source, re-timed to the engine's 25 fps and handed to the
engine with the dub audio of that span (16 kHz mono). An engine that finds no usable face is
retried on halves (``timing.bisect_window``, down to 3 s pieces); what still fails stays
dub-only. Every engine output is validated (present, 25 fps, the frames it was given) before
it is stored; the window's manifest is written last, so a crash leaves nothing reusable half
done. The composite maps each source frame to the nearest engine frame
(``timing.engine_frame_map``) and re-encodes the source picture once, keeping its timestamps,
so the output has the source's frame count, VFR timing included.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from fractions import Fraction
from itertools import islice
from pathlib import Path

import numpy as np

from localization_core import frames, media
from localization_core.artifacts import (
    DubTrack,
    LipSync,
    Piece,
    SegmentResult,
    SourceVideo,
    SyncWindow,
)
from localization_core.audio import read_audio, write_audio
from localization_core.cache import SegmentStore, engine_key
from localization_core.domain import Span
from localization_core.errors import FaceNotDetectedError, LipSyncError, ObjectNotFoundError
from localization_core.presets import Tuning
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.render import smart_render
from localization_core.timing import ENGINE_FPS, bisect_window, engine_frame_map
from localization_core.workspace import Workspace

SEGMENTS = "segments/lipsync"


def segment_store(workspace: Workspace) -> SegmentStore:
    """Where finished window clips live, by cache key (survives runs and evictions)."""
    return SegmentStore(workspace.storage, SEGMENTS, ".mp4")


def manifest_store(workspace: Workspace) -> SegmentStore:
    """Each finished window's result (pieces, calls, reasons); written after its clip."""
    return SegmentStore(workspace.storage, SEGMENTS, ".json")


def sync_window(
    workspace: Workspace,
    *,
    source: SourceVideo,
    dub: DubTrack,
    window: SyncWindow,
    engine: LipSyncer,
    force: bool = False,
    call_log: Path | None = None,
) -> SegmentResult:
    """Run the engine on one window unless its result is already stored. A dub-only window, or
    any window of an engine that changes no frame, costs nothing: no cut, no encode, no store.
    Each engine call is appended to ``call_log`` (JSON lines) when one is given."""
    key = engine_key(
        window.cache_key, engine_version=engine.version, checkpoint_hash=engine.checkpoint_hash
    ) if window.mode == "sync" and engine.changes_frames else window.cache_key  # fmt: skip
    base = {
        "index": window.index,
        "start": window.start,
        "end": window.end,
        "cache_key": key,
        "engine": engine.name,
        "frames": round((window.end - window.start) * ENGINE_FPS),
    }
    if window.mode == "dub_only" or not engine.changes_frames:
        return SegmentResult(**base, status="dub_only")
    stored = None if force else _stored(workspace, key)
    if stored is not None:
        return stored.model_copy(update={"status": "cached", "seconds": 0.0, "engine_seconds": 0.0})
    started = time.monotonic()
    scratch = workspace.scratch_dir("lipsync", source.video_id, dub.language, str(window.index))
    attempts = _Attempts(engine, _tuning(window, engine), scratch, call_log)
    attempts.prepare(workspace, source, dub, window)
    span = Span(start=window.start, end=window.end)
    outcome = bisect_window(span, attempts.call)
    pieces = tuple(
        Piece(start=s.start, end=s.end, synced=ok, reason=attempts.reason(s)) for s, ok in outcome
    )
    clip = None
    if any(piece.synced for piece in pieces):
        clip = segment_store(workspace).put(key, attempts.assemble(outcome))
    result = SegmentResult(
        **base,
        key=clip,
        status="synced" if clip else "dub_only",
        seconds=round(time.monotonic() - started, 2),
        pieces=pieces,
        engine_calls=attempts.calls,
        engine_failures=attempts.failures,
        engine_seconds=round(attempts.engine_seconds, 2),
        bisect_depth=max(round(math.log2(span.duration / s.duration)) for s, _ in outcome),
    )
    manifest = scratch / "manifest.json"
    manifest.write_text(result.model_dump_json())
    manifest_store(workspace).put(key, manifest)  # last: the window is complete
    return result


def _stored(workspace: Workspace, cache_key: str) -> SegmentResult | None:
    """A complete earlier result of this window: its manifest, and its clip when it has one."""
    manifests = manifest_store(workspace)
    try:
        raw = workspace.storage.read_bytes(manifests.key_for(cache_key))
    except ObjectNotFoundError:
        return None
    result = SegmentResult.model_validate_json(raw)
    if result.key is not None and not segment_store(workspace).has(cache_key):
        return None
    return result


def _tuning(window: SyncWindow, engine: LipSyncer) -> Tuning:
    """The window's tuning; a plan from before presets runs the engine's plain settings."""
    return window.tuning or Tuning(preset="none", engine=engine.name, max_window_s=1e9)


class _Attempts:
    """Engine calls on spans of one window's 25 fps clip, with what each call left behind."""

    def __init__(
        self, engine: LipSyncer, tuning: Tuning, scratch: Path, call_log: Path | None
    ) -> None:
        self.engine, self.tuning, self.scratch, self.call_log = engine, tuning, scratch, call_log
        self.calls = 0
        self.failures = 0
        self.engine_seconds = 0.0  # inside engine.sync only (no cutting, encoding, storing)
        self.window = -1
        self.start = 0.0
        self.outputs: dict[tuple[int, int], Path] = {}
        self.reasons: dict[tuple[int, int], str] = {}

    def prepare(
        self, workspace: Workspace, source: SourceVideo, dub: DubTrack, window: SyncWindow
    ) -> None:
        """The window at 25 fps and its dub audio, the engine's inputs."""
        self.start, self.window = window.start, window.index
        scratch = self.scratch
        clip = media.cut(
            workspace.local(source.key), scratch / "clip.mp4", window.start, window.end
        )
        self.clip = media.convert_fps(clip, scratch / "engine.mp4", Fraction(ENGINE_FPS))
        self.audio = media.extract_speech_audio(
            workspace.local(dub.voice_key),
            scratch / "audio.wav",
            start=window.start,
            end=window.end,
        )

    def frames_of(self, span: Span) -> tuple[int, int]:
        """First engine frame and frame count of ``span``."""
        first = round((span.start - self.start) * ENGINE_FPS)
        return first, round((span.end - self.start) * ENGINE_FPS) - first

    def reason(self, span: Span) -> str:
        """Why the engine failed on ``span`` ('' when it did not)."""
        return self.reasons.get(self.frames_of(span), "")

    def call(self, span: Span) -> bool:
        """One engine call on ``span``; False when it found no usable face."""
        first, count = self.frames_of(span)
        video, audio = self._inputs(first, count)
        out = self.scratch / f"synced-{first}-{count}.mp4"
        self.calls += 1
        started = time.monotonic()
        try:
            self.engine.sync(video, audio, out, self.tuning)
        except FaceNotDetectedError as exc:
            self.failures += 1
            self.reasons[(first, count)] = exc.message
            self._log(span, count, exc.message)
            return False
        finally:
            self.engine_seconds += time.monotonic() - started
        self.outputs[(first, count)] = validated(out, count)
        self._log(span, count, "synced")
        return True

    def _log(self, span: Span, frames: int, outcome: str) -> None:
        """One line per engine call in the call log, if there is one."""
        if self.call_log is None:
            return
        line = {"window": self.window, "start": span.start, "end": span.end,
                "frames": frames, "engine": self.engine.name, "outcome": outcome}  # fmt: skip
        with self.call_log.open("a") as log:
            log.write(json.dumps(line) + "\n")

    def _inputs(self, first: int, count: int) -> tuple[Path, Path]:
        """The clip and audio of frames ``first..first+count`` (the whole window as prepared)."""
        total = frames_in(self.clip)
        if first == 0 and count >= total:
            return self.clip, self.audio
        video = self.scratch / f"piece-{first}-{count}.mp4"
        frames.write_rgb(islice(frames.read_rgb(self.clip), first, first + count), video, fps=25)
        samples, rate = read_audio(self.audio)
        part = samples[
            round(first / ENGINE_FPS * rate) : round((first + count) / ENGINE_FPS * rate)
        ]
        audio = write_audio(self.scratch / f"piece-{first}-{count}.wav", part, rate)
        return video, audio

    def assemble(self, outcome: list[tuple[Span, bool]]) -> Path:
        """The window clip: synced pieces from the engine, failed pieces as they came in."""
        if len(outcome) == 1:
            return self.outputs[self.frames_of(outcome[0][0])]
        out = self.scratch / "window.mp4"
        frames.write_rgb(self._pictures(outcome), out, fps=ENGINE_FPS)
        return out

    def _pictures(self, outcome: list[tuple[Span, bool]]) -> Iterator[frames.Image]:
        """Every frame of the window, piece by piece."""
        for span, ok in outcome:
            first, count = self.frames_of(span)
            if ok:
                yield from frames.read_rgb(self.outputs[(first, count)])
            else:
                yield from islice(frames.read_rgb(self.clip), first, first + count)


def frames_in(path: Path) -> int:
    """Frames actually stored in ``path``."""
    return media.probe(path).frame_count or 0


def validated(out: Path, expected: int) -> Path:
    """The engine's output when it is whole: present, 25 fps, ``expected`` frames; otherwise a
    ``LipSyncError`` (never a stored segment)."""
    if not out.is_file() or out.stat().st_size == 0:
        raise LipSyncError(f"the engine wrote no output ({out.name})")
    facts = media.probe(out)
    if facts.fps is not None and facts.fps != ENGINE_FPS:
        raise LipSyncError(f"the engine's output runs at {float(facts.fps):g} fps, not 25")
    if facts.frame_count != expected:
        raise LipSyncError(f"the engine's output has {facts.frame_count} of {expected} frames")
    return out


class _Cursor:
    """Frames of one stored window clip, read forward once, addressed by engine frame."""

    def __init__(self, path: Path) -> None:
        self.frames = frames.read_rgb(path)
        self.index = -1
        self.current: frames.Image | None = None

    def at(self, frame: int) -> frames.Image:
        """Engine frame ``frame`` (never before the last one asked for)."""
        while self.index < frame:
            picture = next(self.frames, None)
            if picture is None:
                break
            self.current, self.index = picture, self.index + 1
        if self.current is None:
            raise LipSyncError("a stored window clip has no frames")
        return self.current


def composite(
    workspace: Workspace,
    source: SourceVideo,
    language: str,
    segments: list[SegmentResult],
    engine: LipSyncer,
) -> LipSync:
    """The localized picture: the source with each synced piece's frames put back in place.
    Without a synced piece (``dub_only``, or nothing the engine could use) the source picture is
    the result, untouched."""
    ordered = tuple(sorted(segments, key=lambda s: s.index))
    synced = [(s, p) for s in ordered if s.key for p in s.pieces if p.synced]
    if not engine.changes_frames or not synced:
        return LipSync(video_key=source.key, segments=ordered, composited=False)
    src = workspace.local(source.key)
    mapping = engine_frame_map(
        media.frame_times(src), [Span(start=p.start, end=p.end) for _, p in synced]
    )
    cursors = {s.index: _Cursor(workspace.local(s.key)) for s, _ in synced if s.key}
    turns = (source.probe.rotation // 90) % 4  # engine clips are upright, frames stored as is

    def replace(index: int) -> frames.Image | None:
        hit = mapping[index] if index < len(mapping) else None
        if hit is None:
            return None
        segment, piece = synced[hit[0]]
        offset = round((piece.start - segment.start) * ENGINE_FPS)
        picture = cursors[segment.index].at(offset + hit[1])
        return np.ascontiguousarray(np.rot90(picture, k=turns)) if turns else picture

    scratch = workspace.scratch_dir("lipsync", source.video_id, language)
    out = scratch / "picture.mp4"
    changed = {index for index, hit in enumerate(mapping) if hit is not None}
    smart = smart_render(src, out, replace, changed)
    if smart is None:
        frames.reencode(src, out, replace)
    key = f"localizations/{source.video_id}/{language}/lipsync/picture.mp4"
    workspace.put(key, out)
    return LipSync(
        video_key=key,
        segments=ordered,
        composited=True,
        render="smart" if smart else "full",
        frames_reencoded=smart.frames_reencoded if smart else len(mapping),
    )
