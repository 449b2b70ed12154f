"""Stage 5a: the sync plan. Which spans of source time the lip-sync engine sees."""

from __future__ import annotations

import hashlib

import numpy as np

from localization_core.artifacts import DubTrack, FaceTrack, SourceVideo, SyncPlan, SyncWindow
from localization_core.audio import Samples, energy_spans, read_audio
from localization_core.cache import cache_key
from localization_core.domain import Span, Translation
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.timing import plan_windows
from localization_core.workspace import Workspace

AUDIO_MARGIN_S = 0.1


def audio_digest(samples: Samples, rate: int, start: float, end: float) -> str:
    """sha256 of the dub audio inside [start, end] plus a small margin (16-bit quantized)."""
    begin = max(0, int((start - AUDIO_MARGIN_S) * rate))
    stop = min(len(samples), int((end + AUDIO_MARGIN_S) * rate))
    quantized = np.clip(samples[begin:stop] * 32767, -32768, 32767).astype("<i2")
    return hashlib.sha256(quantized.tobytes()).hexdigest()


def _inside(spans: list[Span], start: float, end: float) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in spans if s.end > start and s.start < end]


def plan_sync(
    workspace: Workspace,
    *,
    source: SourceVideo,
    faces: FaceTrack,
    dub: DubTrack,
    translation: Translation,
    engine: LipSyncer,
    tuning: str,
) -> SyncPlan:
    """Windows from dub slots and dub-audio energy, cut around faceless spans, keyed."""
    voice, rate = read_audio(workspace.local(dub.voice_key), mono=True)
    energy = energy_spans(voice, rate)
    slots = [line.slot for line in translation.lines if line.text.strip()]
    duration = source.probe.duration
    planned = plan_windows(
        slots,
        energy,
        faces.faceless_spans,
        duration=duration,
        max_window_s=engine.max_window_s,
        cut_points=faces.shot_cuts,
    )
    speech = slots + energy
    windows = []
    for index, (span, mode) in enumerate(planned):
        key = cache_key(
            "lipsync",
            source=source.version,
            span=(span.start, span.end),
            audio=audio_digest(voice, rate, span.start, span.end),
            sync_spans=_inside(speech, span.start, span.end),
            engine=engine.name,
            engine_version=engine.version,
            tuning=tuning,
        )
        windows.append(
            SyncWindow(index=index, start=span.start, end=span.end, mode=mode, cache_key=key)
        )
    fps = faces.fps
    return SyncPlan(
        duration=duration,
        fps=fps,
        engine=engine.name,
        windows=tuple(windows),
        frames_total=faces.frame_count,
        frames_in_windows=sum(round((w.end - w.start) * fps) for w in windows if w.mode == "sync"),
    )
