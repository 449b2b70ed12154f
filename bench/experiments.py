"""The bench's side-by-side experiments: each compares two ways on the same input in one go.

- ``face_track_exclusion``: the CPU preview engine over a clip with faceless shots, once with
  the face track keeping faceless frames out of the windows and once with bisect alone.
- ``resume_after_kill``: a localization SIGKILLed while a lip-sync window is in the engine,
  then run again; which windows the engine saw twice.
  The rerun's segment steps also give Dagster's time around each window's work.
- ``smart_render``: the lip-sync issue's harness, smart render vs re-encoding the whole video.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.pipeline import Run, localize_run
from localization_core import media
from localization_core.artifacts import DubTrack, SegmentResult, SourceVideo, SyncWindow
from localization_core.audio import read_audio, write_audio
from localization_core.domain import Span
from localization_core.presets import resolve
from localization_core.providers.lipsync.preview import PreviewLipSyncer
from localization_core.stages.face_track import track_faces
from localization_core.stages.lipsync import sync_window
from localization_core.storage.local import LocalStorage
from localization_core.timing import ENGINE_FPS, plan_windows
from localization_core.workspace import Workspace

PREVIEW = {"LIPSYNC_PROVIDER": "preview", "LIPSYNC_MAX_WINDOW_S": "2"}


def _speaking_workspace(folder: Path, clip: Path, speech: Path) -> tuple[Workspace, SourceVideo,
                                                                          DubTrack]:  # fmt: skip
    """A workspace with ``clip`` as the source and ``speech`` looped over it as the dub."""
    workspace = Workspace(LocalStorage(folder / "storage"), folder / "work")
    facts = media.probe(clip)
    key = f"videos/{clip.stem}/source.mp4"
    workspace.put(key, clip)
    source = SourceVideo(video_id=clip.stem, key=key, filename=clip.name, version="1",
                         probe=facts)  # fmt: skip
    samples, rate = read_audio(speech, mono=True)
    voice = np.resize(samples, int(facts.picture_duration * rate) + rate).astype(np.float32)
    workspace.put("dub/voice.wav", write_audio(folder / "voice.wav", voice, rate))
    return workspace, source, DubTrack(language="en", voice_key="dub/voice.wav",
                                       mix_key="dub/voice.wav")  # fmt: skip


def _windows(source: SourceVideo, faceless: list[Span], tag: str) -> list[SyncWindow]:
    """Sync windows over the whole clip (speech all through), cut around ``faceless``."""
    end = source.probe.picture_duration
    tuning = resolve("FAST", "preview", 0)
    planned = plan_windows([Span(start=0.0, end=end)], [], faceless, duration=end,
                           max_window_s=tuning.max_window_s)  # fmt: skip
    return [SyncWindow(index=i, start=s.start, end=s.end, mode=mode, tuning=tuning,
                       cache_key=f"{tag}-{i}") for i, (s, mode) in enumerate(planned)]  # fmt: skip


def _engine_totals(results: list[SegmentResult]) -> dict[str, Any]:
    """Engine calls, the failed ones, and frames left dub-only after a failure."""
    fallback = sum(
        round((p.end - p.start) * ENGINE_FPS) for r in results for p in r.pieces if not p.synced
    )
    return {
        "engine_calls": sum(r.engine_calls for r in results),
        "engine_failures": sum(r.engine_failures for r in results),
        "frames_sent": sum(r.frames for r in results if r.engine_calls),
        "frames_dub_only_fallback": fallback,
        "engine_seconds": round(sum(r.engine_seconds for r in results), 2),
    }


def face_track_exclusion(clip: Path, speech: Path) -> dict[str, Any]:
    """Figure 2: engine failures with the face track's exclusion vs bisect alone."""
    with tempfile.TemporaryDirectory() as scratch:
        workspace, source, dub = _speaking_workspace(Path(scratch), clip, speech)
        faceless = list(track_faces(workspace.local(source.key), source).faceless_spans)
        figures: dict[str, Any] = {"clip": clip.name}
        for name, spans in (("with_face_track", faceless), ("bisect_alone", [])):
            windows = [w for w in _windows(source, spans, name) if w.mode == "sync"]
            results = [
                sync_window(workspace, source=source, dub=dub, window=w, engine=PreviewLipSyncer())
                for w in windows
            ]
            figures[name] = _engine_totals(results)
        return figures


def _engine_windows(call_log: Path) -> Counter[int]:
    """How many engine calls each window got, from a call log."""
    if not call_log.exists():
        return Counter()
    return Counter(json.loads(line)["window"] for line in call_log.read_text().splitlines())


def resume_after_kill(folder: Path, video: Path, step: str = "lipsync.sync_segment[2]") -> dict[
        str, Any]:  # fmt: skip
    """Figure 3: SIGKILL the run while ``step``'s window is in the engine, run it again."""
    from tests.kill_harness import kill_during  # the resumption tests' harness

    data = folder / "resume"
    shutil.rmtree(data, ignore_errors=True)
    log = folder / "resume-calls.jsonl"
    log.unlink(missing_ok=True)
    env = {**PREVIEW, "LIPSYNC_CALL_LOG": str(log)}
    args = ["run", str(video), "--to", "en", "--from", "fr"]
    killed = kill_during(data, args, step, env=env)
    before = _engine_windows(log)
    log.unlink(missing_ok=True)
    rerun = localize_run(data, video, env=env, fresh=False)
    after = _engine_windows(log)
    in_flight = int(step.split("[")[1].rstrip("]"))
    done_before = set(before)
    return {
        "killed_at": killed.step,
        "windows": len(rerun.lipsync.segments),
        "windows_done_before_kill": len(done_before),
        "windows_recomputed": len(set(after) & (done_before | {in_flight})),
        "finished_windows_recomputed": len(set(after) & done_before),
        "rerun_engine_windows": sorted(after),
        "overhead": segment_overhead(rerun),
    }


def smart_render(folder: Path, seconds: int) -> dict[str, Any]:
    """Figure 4: smart render vs a full re-encode where under half of the frames change."""
    from tests.render_harness import compare, short_gop_clip  # the lip-sync issue's harness

    folder.mkdir(parents=True, exist_ok=True)
    clip = short_gop_clip(folder / "gop.mp4", seconds=seconds)
    total = seconds * 25
    # changed runs of 1.8-4.4 s, off the GOP grid, covering about 30 % of the frames
    spans = [
        (int(total * a), int(total * b))
        for a, b in (
            (0.05, 0.11),
            (0.2, 0.27),
            (0.35, 0.4),
            (0.52, 0.58),
            (0.66, 0.73),
            (0.86, 0.9),
        )
    ]
    result = compare(clip, spans, folder)
    changed = sum(b - a for a, b in spans)
    return {
        "seconds": seconds, "changed_share": round(changed / total, 3),
        "smart_s": round(result.smart_s, 2), "full_s": round(result.full_s, 2),
        "speedup": round(result.speedup, 2), "smart_bytes": result.smart_bytes,
        "full_bytes": result.full_bytes,
        "size_ratio": round(result.smart_bytes / result.full_bytes, 3),
    }  # fmt: skip


def segment_overhead(run: Run) -> list[dict[str, Any]]:
    """Figure 7: per lip-sync segment step, Dagster's time around the window's work and the
    window's preparation around the engine."""
    return [
        {"step": step.key, "step_s": round(step.seconds, 2), "window_s": window_s,
         "engine_s": engine_s, "dagster_s": round(step.seconds - window_s, 2),
         "prepare_s": round(window_s - engine_s, 2), "status": status}
        for step, window_s, engine_s, status in run.segment_steps()
    ]  # fmt: skip
