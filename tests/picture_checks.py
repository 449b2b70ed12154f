"""What a viewer would check on a lip-synced picture, frame by frame: which frames changed,
where, and how much (reused by the lip-sync tests and the smart-render harness)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from localization_core.artifacts import LipSync
from localization_core.frames import Image, read_rgb
from localization_core.providers.lipsync.preview import face_boxes

LOSSLESS_DB = 99.0


def psnr(a: Image, b: Image) -> float:
    """Peak signal-to-noise ratio of two pictures, in dB (99 for identical ones)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return LOSSLESS_DB if mse == 0 else 10 * math.log10(255**2 / mse)


def mouth_difference(before: Image, after: Image) -> float:
    """Mean absolute difference (0-255) in the mouth region of the face in ``before``."""
    x, y, w, h = face_boxes([before])[0]
    rows, cols = slice(y + int(0.6 * h), y + int(1.15 * h)), slice(x + w // 6, x + 5 * w // 6)
    diff = before[rows, cols].astype(np.int16) - after[rows, cols].astype(np.int16)
    return float(np.abs(diff).mean())


def synced_spans(lipsync: LipSync) -> list[tuple[float, float]]:
    """The spans of source time whose frames the engine re-rendered."""
    return [(p.start, p.end) for s in lipsync.segments if s.key for p in s.pieces if p.synced]


def inside(moment: float, spans: Sequence[tuple[float, float]]) -> bool:
    """Whether a frame shown at ``moment`` lies in one of ``spans``."""
    return any(start - 1e-6 <= moment < end - 1e-6 for start, end in spans)


def frame_pairs(source: Path, output: Path) -> Iterator[tuple[Image, Image]]:
    """Source and output frames, paired in order (a different count raises)."""
    return zip(read_rgb(source), read_rgb(output), strict=True)
