"""`sync_plan`: the sync plan. Which spans of source time the lip-sync engine sees."""

from __future__ import annotations

from localization_core.artifacts import DubTrack, FaceTrack, SourceVideo, SyncPlan, SyncWindow
from localization_core.audio import energy_spans, read_audio
from localization_core.cache import segment_key
from localization_core.domain import Span, Translation
from localization_core.presets import Tuning
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.timing import (
    MERGE_GAP_S,
    WINDOW_PADDING_S,
    merge_spans,
    plan_windows,
    silence_points,
    subtract_spans,
)
from localization_core.workspace import Workspace


def plan_sync(
    workspace: Workspace,
    *,
    source: SourceVideo,
    faces: FaceTrack,
    dub: DubTrack,
    translation: Translation,
    engine: type[LipSyncer],
    tuning: Tuning,
) -> SyncPlan:
    """Windows from dub slots and dub-audio energy, cut around faceless spans, keyed; each
    window is at most the preset's window maximum and carries its tuning."""
    voice, rate = read_audio(workspace.local(dub.voice_key), mono=True)
    energy = energy_spans(voice, rate)
    slots = [line.slot for line in translation.lines if line.text.strip()]
    duration = source.probe.picture_duration
    planned = plan_windows(
        slots,
        energy,
        faces.faceless_spans,
        duration=duration,
        max_window_s=tuning.max_window_s,
        cut_points=sorted([*faces.shot_cuts, *silence_points(energy)]),
    )
    speech = slots + energy
    note = _unsyncable(source, engine)
    if note:
        planned = [(span, "dub_only") for span, _ in planned]
    windows = []
    for index, (span, mode) in enumerate(planned):
        key = segment_key(
            source_id=source.version,
            window=span,
            dub_audio=voice,
            rate=rate,
            sync_spans=speech,
            engine=engine.name,
            tuning=tuning.signature,
        )
        windows.append(
            SyncWindow(
                index=index, start=span.start, end=span.end, mode=mode, cache_key=key,
                tuning=tuning,
            )
        )  # fmt: skip
    fps = faces.fps
    speaking = merge_spans(speech, padding=WINDOW_PADDING_S, merge_gap=MERGE_GAP_S, end=duration)
    faceless_s = sum(
        max(0.0, min(w.end, f.end) - max(w.start, f.start))
        for w in speaking
        for f in faces.faceless_spans
    )
    return SyncPlan(
        faceless_frames_excluded=round(faceless_s * fps),
        frames_speaking=round(sum(span.end - span.start for span in speaking) * fps),
        frames_speech_bound=round(_speech_with_face_s(speech, faces, duration) * fps),
        duration=duration,
        fps=fps,
        engine=engine.name,
        preset=tuning.preset,
        note=note,
        windows=tuple(windows),
        frames_total=faces.frame_count,
        frames_in_windows=sum(round((w.end - w.start) * fps) for w in windows if w.mode == "sync"),
    )


def _speech_with_face_s(speech: list[Span], faces: FaceTrack, duration: float) -> float:
    """Seconds of the dub's own speech (slots and energy, unpadded, overlaps counted once)
    that show an engine-usable face: the least any speech-only lip-sync must send."""
    spoken = merge_spans(speech, padding=0.0, merge_gap=0.0, end=duration)
    holes = merge_spans(faces.faceless_spans, padding=0.0, merge_gap=0.0, end=duration)
    return sum(piece.duration for span in spoken for piece in subtract_spans(span, holes))


def _unsyncable(source: SourceVideo, engine: type[LipSyncer]) -> str:
    """Why no window can be re-rendered for this source ('' when they can): H.264 4:2:0, the
    only picture the composite can write in the source's family, needs even dimensions."""
    width, height = source.probe.width or 0, source.probe.height or 0
    if engine.changes_frames and (width % 2 or height % 2):
        return (
            f"odd picture size {width}x{height}: a re-rendered H.264 4:2:0 picture needs even "
            "dimensions, so every window is dub-only (the picture is kept as it is)"
        )
    return ""
