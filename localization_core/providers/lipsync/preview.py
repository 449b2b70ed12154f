"""The CPU ``preview`` engine: a mouth that opens with the dub, so every lip-sync path (windows,
16-frame chunks, faceless frames, bisect, composite, cache, resume) runs without a GPU.

What it is: the lower face inside each frame's detected face box is stretched downward in
proportion to the dub's loudness at 25 fps (a dark mouth gap grows with it), feathered into
the frame. It moves with the speech and is still in its pauses. What it is not: a model of
visemes or a learned mouth; it is for previews, tests and CPU-only deployments, not delivery.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from localization_core.audio import read_audio
from localization_core.errors import FaceNotDetectedError, LipSyncError
from localization_core.frames import FACE_SCAN_HEIGHT, MIN_FACE_PX, Image, read_rgb, write_rgb
from localization_core.presets import Tuning
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.timing import CHUNK_FRAMES, ENGINE_FPS

SILENT_DB, LOUD_DB = -50.0, -20.0
MAX_MISSED_FRAMES = 3
Box = tuple[int, int, int, int]
Floats = npt.NDArray[np.float32]


class PreviewLipSyncer(LipSyncer):
    """Warps the lower face with the speech envelope; CPU only, no weights."""

    name = "preview"
    version = "1"
    checkpoint_hash = "none"

    def sync(self, video: Path, audio: Path, out_path: Path, tuning: Tuning) -> Path:
        """Re-render the mouth of every frame; ``FaceNotDetectedError`` when a frame has no
        face. Two passes over the clip (faces, then pixels) keep one frame in memory."""
        boxes = face_boxes(read_rgb(video))
        if not boxes:
            raise LipSyncError(f"{video.name}: no frames")
        opening = speech_envelope(audio, len(boxes), smoothing=tuning.smoothing or 1)
        amplitude = tuning.amplitude or 0.25
        rendered = (
            open_mouth(frame, box, float(level) * amplitude)
            for frame, box, level in zip(read_rgb(video), boxes, opening, strict=True)
        )
        write_rgb(rendered, out_path, fps=ENGINE_FPS)
        return out_path


class _Faces:
    """OpenCV's Haar frontal cascade at a reduced scan height (the face_track detector's rule)."""

    def __init__(self, height: int) -> None:
        import cv2

        root = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        self.cascade = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        self.scale = min(1.0, FACE_SCAN_HEIGHT / height)
        self.min_px = max(12, round(MIN_FACE_PX * self.scale))

    def find(self, frame: Image) -> Box | None:
        """The largest frontal face at least 64 source pixels high."""
        import cv2

        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self.scale < 1.0:
            size = (round(grey.shape[1] * self.scale), round(grey.shape[0] * self.scale))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        found = self.cascade.detectMultiScale(grey, 1.1, 5, minSize=(self.min_px, self.min_px))
        if len(found) == 0:
            return None
        x, y, w, h = max(found, key=lambda box: box[3])
        return tuple(round(v / self.scale) for v in (x, y, w, h))  # type: ignore[return-value]


def face_boxes(frames: Iterable[Image]) -> list[Box]:
    """One face box per frame. Every frame is checked; a run of up to 3 frames (0.12 s) without
    a detection (shorter than face_track's 0.2 s sampling step: the cascade flickering, not a
    faceless shot) takes the nearest detected box, a longer run raises
    ``FaceNotDetectedError``. Boxes are steadied per 16-frame chunk, as the diffusion engines
    batch frames."""
    faces: _Faces | None = None
    found: list[Box | None] = []
    for frame in frames:
        faces = faces or _Faces(frame.shape[0])
        found.append(faces.find(frame))
    filled = _fill_gaps(found)
    boxes: list[Box] = []
    for start in range(0, len(filled), CHUNK_FRAMES):
        boxes.extend(_steady(filled[start : start + CHUNK_FRAMES]))
    return boxes


def _fill_gaps(found: list[Box | None]) -> list[Box]:
    """Short runs of misses bridged with the nearest detection; a long one is faceless."""
    seen = [i for i, box in enumerate(found) if box is not None]
    filled: list[Box] = []
    for index, detected in enumerate(found):
        box = detected
        if box is None:
            nearest = min(seen, key=lambda i: abs(i - index), default=None)
            if nearest is None or _miss_run(found, index) > MAX_MISSED_FRAMES:
                raise FaceNotDetectedError(f"Face not detected (frame {index})")
            box = found[nearest]
        assert box is not None
        filled.append(box)
    return filled


def _miss_run(found: list[Box | None], index: int) -> int:
    """The length of the run of misses that ``index`` belongs to."""
    start = index
    while start > 0 and found[start - 1] is None:
        start -= 1
    end = index
    while end + 1 < len(found) and found[end + 1] is None:
        end += 1
    return end - start + 1


def _steady(chunk: list[Box]) -> list[Box]:
    """The chunk's median box for every frame: a mouth that does not jitter with the detector."""
    median = np.median(np.array(chunk, dtype=np.float64), axis=0)
    box: Box = tuple(round(float(v)) for v in median)  # type: ignore[assignment]
    return [box] * len(chunk)


def speech_envelope(audio: Path, frames: int, *, smoothing: int) -> Floats:
    """Loudness of the dub per 25 fps frame, 0 (silence) to 1 (loud speech), smoothed over
    ``smoothing`` frames; exactly 0 where the dub is silent, so pauses keep their frames."""
    samples, rate = read_audio(audio, mono=True)
    hop = rate / ENGINE_FPS
    levels = np.zeros(frames, dtype=np.float32)
    for index in range(frames):
        part = samples[int(index * hop) : int((index + 1) * hop)]
        if part.size:
            rms = float(np.sqrt(np.mean(np.square(part, dtype=np.float64))))
            db = 20 * np.log10(max(rms, 1e-9))
            levels[index] = np.clip((db - SILENT_DB) / (LOUD_DB - SILENT_DB), 0.0, 1.0)
    if smoothing > 1:
        kernel = np.ones(smoothing, dtype=np.float32) / smoothing
        smoothed = np.convolve(levels, kernel, mode="same").astype(np.float32)
        levels = np.where(levels > 0, smoothed, 0.0).astype(np.float32)
    return levels


def _feather(height: int, width: int) -> Floats:
    """A mask that is 1 in the middle and falls smoothly to 0 at every edge."""

    def ramp(n: int) -> Floats:
        edge = max(1, n // 4)
        line = np.ones(n, dtype=np.float32)
        fall = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge, dtype=np.float32))
        line[:edge], line[n - edge :] = fall, fall[::-1]
        return line

    return np.outer(ramp(height), ramp(width)).astype(np.float32)


def open_mouth(frame: Image, box: Box, opening: float) -> Image:
    """The frame with the region below the nose stretched down by ``opening`` (a share of the
    face height) and a dark gap at the lips; the frame itself when ``opening`` is 0."""
    if opening <= 0:
        return frame
    import cv2

    x, y, w, h = box
    top, bottom = y + int(0.6 * h), min(frame.shape[0], y + int(1.15 * h))
    left, right = max(0, x + int(0.15 * w)), min(frame.shape[1], x + int(0.85 * w))
    if bottom - top < 8 or right - left < 8:
        return frame
    region = frame[top:bottom, left:right].astype(np.float32)
    rows, cols = region.shape[:2]
    shift = opening * h
    grid_y, grid_x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    lips = 0.25 * rows  # the mouth line, a quarter of the way down the region
    source_y = np.where(grid_y <= lips, grid_y, lips + (grid_y - lips) * rows / (rows + shift))
    warped = cv2.remap(region, grid_x, source_y.astype(np.float32), cv2.INTER_LINEAR)
    gap = np.exp(-(((grid_y - lips - shift / 2) / max(1.0, shift / 2)) ** 2))
    gap *= np.exp(-(((grid_x - cols / 2) / (0.22 * cols)) ** 2))
    warped *= (1.0 - 0.6 * gap * min(1.0, opening * 4))[..., None]
    mask = _feather(rows, cols)[..., None]
    blended = region * (1 - mask) + warped * mask
    out = frame.copy()
    out[top:bottom, left:right] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
