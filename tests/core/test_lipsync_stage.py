"""The lip-sync stage with the CPU preview engine on real clips: the face track keeps faceless
frames from the engine; without it, bisect isolates them at a bounded cost; the composite keeps
the source's frames, count and timestamps; a stored window is reused, not recomputed."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from localization_core import media
from localization_core.artifacts import (
    DubTrack,
    FaceTrack,
    Piece,
    SegmentResult,
    SourceVideo,
    SyncWindow,
)
from localization_core.audio import read_audio, write_audio
from localization_core.domain import Span, TranslatedLine, Translation
from localization_core.presets import resolve
from localization_core.providers.lipsync.preview import PreviewLipSyncer
from localization_core.stages.face_track import track_faces
from localization_core.stages.lipsync import composite, manifest_store, sync_window
from localization_core.stages.sync_plan import plan_sync
from localization_core.storage.local import LocalStorage
from localization_core.timing import BISECT_MIN_S, plan_windows
from localization_core.workspace import Workspace
from tests.conftest import ffmpeg, media_file
from tests.picture_checks import frame_pairs, inside, psnr

TUNING = resolve("FAST", "preview", 0)


@dataclass
class Stage:
    """A workspace holding one source clip and a dub voice that speaks all through it."""

    workspace: Workspace
    source: SourceVideo
    dub: DubTrack

    def windows(self, faceless: list[Span]) -> list[SyncWindow]:
        """Sync windows over the whole clip, cut around ``faceless``."""
        end = self.source.probe.picture_duration
        planned = plan_windows(
            [Span(start=0.0, end=end)], [], faceless, duration=end, max_window_s=30.0
        )
        return [
            SyncWindow(index=i, start=s.start, end=s.end, mode=mode, tuning=TUNING,
                       cache_key=f"{self.source.video_id}-{len(faceless)}-{i}")
            for i, (s, mode) in enumerate(planned)
        ]  # fmt: skip

    def sync(self, window: SyncWindow) -> SegmentResult:
        return sync_window(
            self.workspace, source=self.source, dub=self.dub, window=window,
            engine=PreviewLipSyncer(),
        )  # fmt: skip


def make_stage(tmp_path: Path, clip: str | Path) -> Stage:
    storage = LocalStorage(tmp_path / "storage")
    workspace = Workspace(storage, tmp_path / "work")
    path = clip if isinstance(clip, Path) else media_file(clip)
    clip = path.name
    facts = media.probe(path)
    workspace.put(f"videos/{Path(clip).stem}/source.mp4", path)
    source = SourceVideo(
        video_id=Path(clip).stem, key=f"videos/{Path(clip).stem}/source.mp4", filename=clip,
        version="1", probe=facts,
    )  # fmt: skip
    speech, rate = read_audio(media_file("speech_en_jfk.flac"), mono=True)
    frames = int(facts.picture_duration * rate) + rate
    voice = np.resize(speech, frames).astype(np.float32)  # speech all through the clip
    write_audio(tmp_path / "voice.wav", voice, rate)
    workspace.put("dub/voice.wav", tmp_path / "voice.wav")
    dub = DubTrack(language="en", voice_key="dub/voice.wav", mix_key="dub/voice.wav")
    return Stage(workspace, source, dub)


@pytest.fixture(scope="module")
def cuts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stage, list[Span]]:
    """The clip with a faceless close-up, a profile and hands over the face, and its track."""
    stage = make_stage(tmp_path_factory.mktemp("cuts"), "cuts_faceless_profile_30fps.mp4")
    path = stage.workspace.local(stage.source.key)
    return stage, list(track_faces(path, stage.source).faceless_spans)


def test_with_the_face_track_no_engine_call_fails_on_a_face(
    cuts: tuple[Stage, list[Span]],
) -> None:
    stage, faceless = cuts
    windows = [w for w in stage.windows(faceless) if w.mode == "sync"]
    assert windows, "the clip has frontal faces to sync"
    results = [stage.sync(w) for w in windows]
    assert [r.engine_calls for r in results] == [1] * len(windows)
    assert all(p.synced for r in results for p in r.pieces), [r.pieces for r in results]


def test_without_it_bisect_leaves_each_faceless_island_dub_only_at_a_bounded_cost(
    cuts: tuple[Stage, list[Span]],
) -> None:
    stage, faceless = cuts
    windows = [w for w in stage.windows([]) if w.mode == "sync"]
    for window in windows:
        result = stage.sync(window)
        span = Span(start=window.start, end=window.end)
        islands = [f for f in faceless if f.start < span.end and f.end > span.start]
        depth = math.ceil(math.log2(span.duration / BISECT_MIN_S))
        assert result.engine_calls <= max(1, len(islands)) * (4 * depth + 1), result
        dub_only = [p for p in result.pieces if not p.synced]
        # every call that did not end in a synced piece found no face: the report's failures
        synced = len(result.pieces) - len(dub_only)
        assert result.engine_failures == result.engine_calls - synced, result
        assert 0 < result.engine_seconds <= result.seconds, result
        for island in islands:  # every faceless frame stays as it was
            start, end = max(island.start, span.start), min(island.end, span.end)
            covering = [p for p in dub_only if p.start <= start + 1e-6 and end <= p.end + 1e-6]
            near = [p for p in dub_only if p.end > start - 1e-6 and p.start < end + 1e-6]
            assert covering or _tiled(near, start, end), (island, result.pieces)
        for piece in dub_only:  # and at most one 3 s piece of excess on each side
            touching = [i for i in islands if i.start < piece.end and i.end > piece.start]
            assert touching, f"{piece} failed away from any faceless frame"
            assert piece.start >= min(i.start for i in touching) - BISECT_MIN_S - 1e-6
            assert piece.end <= max(i.end for i in touching) + BISECT_MIN_S + 1e-6
            assert "Face not detected" in piece.reason


def _tiled(pieces: list[Piece], start: float, end: float) -> bool:
    """Adjacent dub-only pieces that together cover ``start..end``."""
    spans = sorted((p.start, p.end) for p in pieces)
    reach = start
    for a, b in spans:
        if a > reach + 1e-6:
            return False
        reach = max(reach, b)
    return reach >= end - 1e-6


def test_the_composite_keeps_vfr_timestamps_and_every_other_frame(tmp_path: Path) -> None:
    """A variable-frame-rate clip: one synced window, then the composite and a second pass
    that finds the window stored."""
    stage = make_stage(tmp_path, "talking_head_vfr.mp4")
    window = SyncWindow(index=0, start=0.64, end=1.92, mode="sync", cache_key="vfr",
                        tuning=TUNING)  # fmt: skip
    first = stage.sync(window)
    assert first.status == "synced" and first.engine_calls == 1 and first.frames == 32
    assert first.engine_failures == 0 and 0 < first.engine_seconds <= first.seconds
    again = stage.sync(window)
    assert again.status == "cached" and again.key == first.key and again.seconds == 0
    assert again.engine_seconds == 0, "a reused window costs no engine time"
    # a manifest stored before engine failures and seconds were recorded is still reused
    manifest = manifest_store(stage.workspace).key_for(first.cache_key)
    stored = json.loads(stage.workspace.storage.read_bytes(manifest))
    old = {k: v for k, v in stored.items() if k not in {"engine_failures", "engine_seconds"}}
    stage.workspace.storage.write_bytes(manifest, json.dumps(old).encode())
    assert stage.sync(window).model_dump() == again.model_dump()
    picture = composite(stage.workspace, stage.source, "en", [first], PreviewLipSyncer())
    assert picture.composited
    source, output = media_file("talking_head_vfr.mp4"), stage.workspace.local(picture.video_key)
    times = media.frame_times(source)
    assert media.frame_times(output) == pytest.approx(times, abs=1e-3)
    changed = [
        moment
        for moment, (a, b) in zip(times, frame_pairs(source, output), strict=True)
        if psnr(a, b) < 45
    ]
    assert changed and all(inside(t, [(0.64, 1.92)]) for t in changed), changed


def test_an_odd_sized_picture_is_planned_dub_only_with_the_reason(tmp_path: Path) -> None:
    """H.264 4:2:0 cannot carry a re-rendered 511x511 picture: no window goes to the engine
    (no GPU time spent on frames that could not be delivered), and the plan says why."""
    stage = make_stage(tmp_path, "talking_head_512_25fps.mp4")
    probe = stage.source.probe.model_copy(update={"width": 511, "height": 511})
    odd = stage.source.model_copy(update={"probe": probe})
    faces = FaceTrack(fps=25.0, frame_count=200, sample_interval_s=0.2, samples=40)
    line = TranslatedLine(id=1, start=0.5, end=6.0, source_text="-", text="hello there")
    translation = Translation(source_language="fr", target_language="en", lines=(line,))
    plan = plan_sync(stage.workspace, source=odd, faces=faces, dub=stage.dub,
                     translation=translation, engine=PreviewLipSyncer, tuning=TUNING)  # fmt: skip
    assert plan.windows and all(w.mode == "dub_only" for w in plan.windows)
    assert plan.note.startswith("odd picture size 511x511")


def test_a_rotated_source_is_composited_as_stored_and_shown_upright(tmp_path: Path) -> None:
    """A phone clip stored sideways with a rotation flag: the engine sees it upright, the
    composite puts its frames back sideways, and the delivery carries the same flag."""
    sideways, phone = tmp_path / "sideways.mp4", tmp_path / "phone.mp4"
    ffmpeg(
        "-i",
        str(media_file("talking_head_512_25fps.mp4")),
        "-t",
        "2.56",
        "-an",
        "-vf",
        "crop=512:384:0:64,transpose=1",
        "-c:v",
        "libx264",
        "-crf",
        "16",
        str(sideways),
    )
    ffmpeg("-i", str(sideways), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(phone))
    stage = make_stage(tmp_path, phone)
    assert stage.source.probe.rotation == 270
    window = SyncWindow(index=0, start=0.64, end=1.92, mode="sync", cache_key="phone",
                        tuning=TUNING)  # fmt: skip
    synced = stage.sync(window)
    assert synced.status == "synced", synced.pieces  # the engine found the face: upright
    picture = composite(stage.workspace, stage.source, "en", [synced], PreviewLipSyncer())
    stored = stage.workspace.local(picture.video_key)
    scores = [psnr(a, b) for a, b in frame_pairs(phone, stored)]
    assert min(scores[:16] + scores[48:]) >= 45 and min(scores[16:48]) < 45
    delivered = media.mux(stored, [media.AudioTrack(path=str(tmp_path / "voice.wav"),
                          language="eng")], tmp_path / "out.mp4", duration=2.56,
                          rotation=stage.source.probe.rotation)  # fmt: skip
    assert media.probe(delivered).rotation == 270
