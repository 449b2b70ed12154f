"""`face_track`: where an engine-usable frontal face (>= 64 px high) is visible.

Every frame is decoded once, by ffmpeg, grey and scaled to at most 432 rows (the scan). Shot
cuts are found in that same stream: ffmpeg's scene score (the smaller of the mean absolute
frame difference and its change, over 100) computed on the scan frames, so no second decode.
OpenCV's Haar frontal cascade runs on a sample every 0.2 s and on the first frame of every
cut (around the face the sample before found in the same shot first, the whole frame on a
miss), and each change between two samples is refined to the exact frame by bisection over the
frames in between. The profile cascades run on the first frame of each shot (their answer holds
for the shot's frontal frames) and where a run of samples without a frontal face begins (its
answer holds for the run): profiles are reported, not accepted (DESIGN section 4). The
cascade's window is 24 scan pixels, so the smallest face seen is the larger of 64 px and 24
scan pixels (107 px on a 1080x1920 picture).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from localization_core import media
from localization_core.artifacts import FaceTrack, SourceVideo
from localization_core.domain import Span
from localization_core.frames import FACE_SCAN_HEIGHT, MIN_FACE_PX

SAMPLE_INTERVAL_S = 0.2
SCENE_THRESHOLD = 0.08
MIN_NEIGHBOURS = 5
CASCADE_WINDOW_PX = 24
Frame = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]


class _Detector:
    """The frontal and profile cascades at one scan scale; counts its calls (the cost)."""

    def __init__(self, scale: float) -> None:
        import cv2

        root = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        self.frontal = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        self.profile = cv2.CascadeClassifier(str(root / "haarcascade_profileface.xml"))
        self.scale = scale
        self.min_px = max(CASCADE_WINDOW_PX, round(MIN_FACE_PX * scale))
        self.calls = 0

    def face(self, frame: Frame, near: Box | None = None) -> Box | None:
        """The largest accepted frontal face, in source pixels. With ``near`` (the face of the
        sample before, same shot) the region around it is searched first: a face that stays
        about where it was costs a fraction of a full-frame pass; a miss there searches the
        whole frame, so the answer (face or none) is the full pass's."""
        self.calls += 1
        if near is not None:
            left, top, region = self._around(frame, near)
            found = self._largest(region)
            if found is not None:
                x, y, w, h = found
                return self._source((x + left, y + top, w, h))
        found = self._largest(frame)
        return None if found is None else self._source(found)

    def _largest(self, image: Frame) -> Box | None:
        size = (self.min_px, self.min_px)
        if image.shape[0] < size[1] or image.shape[1] < size[0]:
            return None
        found = self.frontal.detectMultiScale(image, 1.1, MIN_NEIGHBOURS, minSize=size)
        if len(found) == 0:
            return None
        x, y, w, h = max(found, key=lambda box: box[3])
        return int(x), int(y), int(w), int(h)

    def _around(self, frame: Frame, box: Box) -> tuple[int, int, Frame]:
        """The scan region of ``box`` (source pixels) grown by its size on every side."""
        x, y, w, h = (round(v * self.scale) for v in box)
        left, top = max(0, x - w), max(0, y - h)
        right, bottom = min(frame.shape[1], x + 2 * w), min(frame.shape[0], y + 2 * h)
        return left, top, frame[top:bottom, left:right]

    def _source(self, box: Box) -> Box:
        return tuple(int(v / self.scale) for v in box)  # type: ignore[return-value]

    def profile_seen(self, frame: Frame) -> bool:
        """A profile face looking either way (reported only)."""
        size = (self.min_px, self.min_px)
        for image in (frame, frame[:, ::-1]):
            if len(self.profile.detectMultiScale(image, 1.1, MIN_NEIGHBOURS, minSize=size)):
                return True
        return False


@dataclass
class _Scan:
    """Per-frame results filled in as the decode streams past."""

    count: int
    faces: list[Box | None] = field(default_factory=list)
    profile: list[bool] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.faces = [None] * self.count
        self.profile = [False] * self.count


def _sample_frames(times: list[float]) -> set[int]:
    """Frame indices scanned whatever the picture: one every 0.2 s, and the last frame."""
    chosen: set[int] = set()
    next_time = 0.0
    for index, moment in enumerate(times):
        if moment >= next_time - 1e-6:
            chosen.add(index)
            next_time = moment + SAMPLE_INTERVAL_S
    if times:
        chosen.add(len(times) - 1)
    return chosen


class _CutDetector:
    """ffmpeg's scene score, frame by frame, on the scan frames."""

    def __init__(self) -> None:
        self.previous: npt.NDArray[np.int16] | None = None
        self.previous_mafd = 0.0

    def is_cut(self, frame: Frame) -> bool:
        """Whether ``frame`` starts a new shot (score above ``SCENE_THRESHOLD``)."""
        current = frame.astype(np.int16)
        score = 0.0
        if self.previous is not None:
            mafd = float(np.abs(current - self.previous).mean())
            score = min(mafd, abs(mafd - self.previous_mafd)) / 100
            self.previous_mafd = mafd
        self.previous = current
        return score > SCENE_THRESHOLD


def _refine(detector: _Detector, frames: dict[int, Frame], scan: _Scan, low: int, high: int) -> int:
    """First frame in (low, high] whose state equals ``high``'s, by bisection."""
    want = scan.faces[high] is not None
    while high - low > 1:
        middle = (low + high) // 2
        scan.faces[middle] = detector.face(frames[middle])
        if (scan.faces[middle] is not None) == want:
            high = middle
        else:
            low = middle
    return high


def _fill(scan: _Scan, start: int, stop: int, source: int) -> None:
    """Frames in [start, stop) not scanned themselves take the result of frame ``source``."""
    for index in range(start, stop):
        if scan.faces[index] is None and scan.faces[source] is not None:
            scan.faces[index] = scan.faces[source]
        scan.profile[index] = scan.profile[source]


def _profile(detector: _Detector, frame: Frame, scan: _Scan, *, index: int, previous: int | None,
             shot_start: bool, shot_profile: bool) -> bool:  # fmt: skip
    """Whether a profile is seen at sample ``index``: looked for at a shot's first frame and
    where a faceless run begins; a frontal frame takes its shot's answer, a faceless one its
    run's."""
    faceless = scan.faces[index] is None
    run_begins = previous is None or scan.faces[previous] is not None
    if shot_start or (faceless and run_begins):
        return detector.profile_seen(frame)
    return scan.profile[previous] if faceless and previous is not None else shot_profile


def _scan_frames(path: Path, times: list[float], samples: set[int], detector: _Detector,
                 height: int) -> _Scan:  # fmt: skip
    scan = _Scan(len(times))
    cuts = _CutDetector()
    pending: dict[int, Frame] = {}
    previous: int | None = None
    shot_profile = False  # what the shot's first frame showed
    for index, frame in enumerate(media.decode_gray_frames(path, height=height)):
        if index >= scan.count:
            break
        pending[index] = frame
        shot_start = cuts.is_cut(frame) or index == 0
        if shot_start and index:
            scan.cuts.append(times[index])
        elif not shot_start and index not in samples:
            continue
        near = None if shot_start or previous is None else scan.faces[previous]
        scan.faces[index] = detector.face(frame, near)
        scan.profile[index] = _profile(
            detector,
            frame,
            scan,
            index=index,
            previous=previous,
            shot_start=shot_start,
            shot_profile=shot_profile,
        )
        shot_profile = scan.profile[index] if shot_start else shot_profile
        if previous is not None:
            changed = (scan.faces[previous] is None) != (scan.faces[index] is None)
            boundary = _refine(detector, pending, scan, previous, index) if changed else index
            _fill(scan, previous + 1, boundary, previous)
            _fill(scan, boundary, index, index)
        pending = {index: frame}
        previous = index
    return scan


def _runs(times: list[float], flags: list[bool], end: float) -> list[Span]:
    """Maximal runs of frames whose flag is set, as spans of source time."""
    spans: list[Span] = []
    start: float | None = None
    for index, flag in enumerate(flags):
        if flag and start is None:
            start = times[index]
        elif not flag and start is not None:
            spans.append(Span(start=start, end=times[index]))
            start = None
    if start is not None:
        spans.append(Span(start=start, end=end))
    return spans


def track_faces(path: Path, source: SourceVideo) -> FaceTrack:
    """Faceless spans, profile spans, shot cuts and per-frame face boxes of ``path``."""
    started = time.monotonic()
    facts = source.probe
    times = media.frame_times(path)
    shown = facts.display_size  # frames are scanned upright, as a viewer sees them
    shown_height = shown[1] if shown else FACE_SCAN_HEIGHT
    height = min(FACE_SCAN_HEIGHT, shown_height) // 2 * 2
    detector = _Detector(height / shown_height)
    samples = _sample_frames(times)
    scan = _scan_frames(path, times, samples, detector, height)
    end = facts.picture_duration
    boxes: list[tuple[float, int, int, int, int]] = [
        (times[i], *box) for i, box in enumerate(scan.faces) if box is not None
    ]
    elapsed = time.monotonic() - started
    return FaceTrack(
        fps=float(facts.fps or 25),
        frame_count=len(times),
        sample_interval_s=SAMPLE_INTERVAL_S,
        samples=detector.calls,
        faceless_spans=tuple(_runs(times, [f is None for f in scan.faces], end)),
        profile_spans=tuple(_runs(times, scan.profile, end)),
        shot_cuts=tuple(scan.cuts),
        boxes=tuple(boxes),
        seconds_per_minute=round(elapsed / max(end / 60, 1e-6), 2),
    )


def face_metadata(track: FaceTrack) -> dict[str, Any]:
    """What the Dagster UI shows for a face track."""
    return {
        "frames": track.frame_count,
        "frames_with_face": len(track.boxes),
        "faceless_spans": len(track.faceless_spans),
        "profile_spans": len(track.profile_spans),
        "shot_cuts": len(track.shot_cuts),
        "detector_calls": track.samples,
        "seconds_per_minute": track.seconds_per_minute,
    }
