"""Face track: where an engine-usable frontal face (>= 64 px high) is visible.

A reduced decode is sampled every 0.2 s and scanned with OpenCV's Haar frontal cascade; profile
detections are reported but not accepted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from localization_core import media
from localization_core.artifacts import FaceTrack, SourceVideo
from localization_core.domain import Span

SAMPLE_INTERVAL_S = 0.2
MIN_FACE_PX = 64
SCAN_WIDTH = 640


def _cascades() -> tuple[Any, Any]:
    import cv2

    root = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
    frontal = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
    profile = cv2.CascadeClassifier(str(root / "haarcascade_profileface.xml"))
    return frontal, profile


def _spans(times: list[float], hits: list[bool], want: bool, duration: float) -> list[Span]:
    """Maximal runs of samples whose hit equals ``want``, as spans of source time."""
    spans: list[Span] = []
    start: float | None = None
    for moment, hit in zip(times, hits, strict=True):
        if hit == want and start is None:
            start = moment
        elif hit != want and start is not None:
            spans.append(Span(start=start, end=moment))
            start = None
    if start is not None:
        spans.append(Span(start=start, end=duration))
    return spans


def _unscaled(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v / scale) for v in box)
    return x, y, w, h


def track_faces(path: Path, source: SourceVideo) -> FaceTrack:
    """Sample the video and report faceless spans, profile spans and face boxes."""
    started = time.monotonic()
    frontal, profile = _cascades()
    facts = source.probe
    width = facts.width or SCAN_WIDTH
    scale = min(1.0, SCAN_WIDTH / width)
    min_px = max(12, int(MIN_FACE_PX * scale))
    times: list[float] = []
    faces: list[bool] = []
    profiles: list[bool] = []
    boxes: list[tuple[float, int, int, int, int]] = []
    for moment, frame in media.decode_gray_frames(
        path, fps=1 / SAMPLE_INTERVAL_S, width=max(2, int(width * scale) // 2 * 2)
    ):
        found = frontal.detectMultiScale(frame, 1.1, 5, minSize=(min_px, min_px))
        times.append(round(moment, 3))
        faces.append(len(found) > 0)
        if len(found):
            x, y, w, h = max(found, key=lambda box: box[3])
            boxes.append((round(moment, 3), *_unscaled((x, y, w, h), scale)))
            profiles.append(False)
        else:
            profiles.append(
                len(profile.detectMultiScale(frame, 1.1, 5, minSize=(min_px, min_px))) > 0
            )
    elapsed = time.monotonic() - started
    fps = float(facts.fps or 25)
    return FaceTrack(
        fps=fps,
        frame_count=facts.frame_count or round(facts.duration * fps),
        sample_interval_s=SAMPLE_INTERVAL_S,
        samples=len(times),
        faceless_spans=tuple(_spans(times, faces, False, facts.duration)),
        profile_spans=tuple(_spans(times, profiles, True, facts.duration)),
        boxes=tuple(boxes),
        seconds_per_minute=round(elapsed / max(facts.duration / 60, 1e-6), 2),
    )
