"""Display cues from dub lines by broadcast rules, written as SRT and WebVTT (pysubs2)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import pysubs2

from localization_core.domain import Frozen, TranslatedLine
from localization_core.media import atomic_output

MAX_CHARS = 42
MAX_LINES = 2
MIN_S = 5 / 6
MAX_S = 7.0
GAP_FRAMES = 2
FAST_CPS = 17.0


class Cue(Frozen):
    """One on-screen subtitle."""

    line_id: int
    start: float
    end: float
    text: str
    fast: bool = False


def _chunks(text: str) -> list[str]:
    rows = textwrap.wrap(" ".join(text.split()), MAX_CHARS) or [""]
    return ["\n".join(rows[i : i + MAX_LINES]) for i in range(0, len(rows), MAX_LINES)]


def cues_from_lines(lines: Sequence[TranslatedLine], fps: float = 25.0) -> list[Cue]:
    """At most 42 chars x 2 rows per cue, 5/6 s to 7 s on screen, a 2-frame gap between cues;
    reading speed above 17 chars/s is flagged ``fast``."""
    gap = GAP_FRAMES / fps
    cues: list[Cue] = []
    for index, line in enumerate(lines):
        if not line.text.strip():
            continue
        limit = lines[index + 1].start - gap if index + 1 < len(lines) else line.end + MAX_S
        chunks = _chunks(line.text)
        total = sum(len(c) for c in chunks)
        start = line.start
        for chunk in chunks:
            share = (line.end - line.start) * len(chunk) / total
            end = min(max(start + share, start + MIN_S), start + MAX_S, max(limit, start + 0.04))
            fast = len(chunk.replace("\n", "")) / max(end - start, 1e-3) > FAST_CPS
            cues.append(Cue(line_id=line.id, start=start, end=end, text=chunk, fast=fast))
            start = end + gap
    return cues


def write_subtitles(cues: Sequence[Cue], path: Path) -> Path:
    """Write SRT or WebVTT (by suffix) atomically."""
    subs = pysubs2.SSAFile()
    for cue in cues:
        subs.append(
            pysubs2.SSAEvent(
                start=round(cue.start * 1000),
                end=round(cue.end * 1000),
                text=cue.text.replace("\n", "\\N"),
            )
        )
    fmt = "vtt" if path.suffix == ".vtt" else "srt"
    with atomic_output(path) as tmp:
        subs.save(str(tmp), format_=fmt)
    return path
