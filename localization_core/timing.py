"""Pure planning functions: isochrony fits and sync windows (DESIGN section 4)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Literal

from localization_core.domain import Frozen, Span

MAX_STRETCH = 1.1
MAX_COMPRESS = 1.2
BREATH_S = 0.15
FADE_S = 0.03
WINDOW_PADDING_S = 0.4
MERGE_GAP_S = 2.0
ENGINE_FPS = 25
CHUNK_FRAMES = 16
CHUNK_S = CHUNK_FRAMES / ENGINE_FPS


class FitPlan(Frozen):
    """How one synthesized clip is fitted into its slot.

    ``ratio`` > 1 speeds the clip up (compress), < 1 slows it down (stretch); the clip is
    placed at the slot start and lasts ``placed_s``; ``cut`` means it was cut at the limit.
    """

    action: Literal["fit", "stretch", "compress", "cut"]
    ratio: float
    placed_s: float
    borrowed_s: float
    cut: bool


def plan_fit(synth_s: float, slot: Span, next_start: float) -> FitPlan:
    """Fit a clip of ``synth_s`` seconds into ``slot`` without touching the next line.

    Too short: stretch by at most 1.1x toward the slot. Too long: borrow the silence after the
    slot up to ``next_start`` minus a 0.15 s breath, then compress by at most 1.2x; what still
    overflows is cut at the limit.
    """
    slot_s = slot.duration
    limit = max(slot_s, next_start - BREATH_S - slot.start)
    if synth_s <= 0 or slot_s <= 0:
        return FitPlan(action="cut", ratio=1.0, placed_s=0.0, borrowed_s=0.0, cut=synth_s > 0)
    if synth_s <= slot_s:
        ratio = max(synth_s / slot_s, 1.0 / MAX_STRETCH)
        action: Literal["fit", "stretch"] = "stretch" if ratio < 0.999 else "fit"
        return FitPlan(
            action=action, ratio=ratio, placed_s=synth_s / ratio, borrowed_s=0.0, cut=False
        )
    if synth_s <= limit:
        return FitPlan(
            action="fit", ratio=1.0, placed_s=synth_s, borrowed_s=synth_s - slot_s, cut=False
        )
    ratio = min(synth_s / limit, MAX_COMPRESS)
    placed = synth_s / ratio
    if placed <= limit + 1e-9:
        return FitPlan(
            action="compress",
            ratio=ratio,
            placed_s=placed,
            borrowed_s=max(0.0, placed - slot_s),
            cut=False,
        )
    return FitPlan(action="cut", ratio=ratio, placed_s=limit, borrowed_s=limit - slot_s, cut=True)


def merge_spans(
    spans: Iterable[Span], *, padding: float, merge_gap: float, end: float
) -> list[Span]:
    """Pad each span, clip to [0, end], and merge neighbours closer than ``merge_gap``."""
    padded = sorted(
        (max(0.0, s.start - padding), min(end, s.end + padding)) for s in spans if s.end > s.start
    )
    merged: list[list[float]] = []
    for start, stop in padded:
        if stop <= start:
            continue
        if merged and start - merged[-1][1] < merge_gap:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [Span(start=round(a, 4), end=round(b, 4)) for a, b in merged]


def subtract_spans(window: Span, holes: Sequence[Span]) -> list[Span]:
    """The parts of ``window`` outside every hole."""
    pieces = [window]
    for hole in holes:
        next_pieces: list[Span] = []
        for piece in pieces:
            if hole.end <= piece.start or hole.start >= piece.end:
                next_pieces.append(piece)
                continue
            if hole.start > piece.start:
                next_pieces.append(Span(start=piece.start, end=hole.start))
            if hole.end < piece.end:
                next_pieces.append(Span(start=hole.end, end=piece.end))
        pieces = next_pieces
    return pieces


def split_long(window: Span, max_s: float, cut_points: Sequence[float]) -> list[Span]:
    """Split a window longer than ``max_s`` at the cut point nearest each equal split point."""
    if window.duration <= max_s:
        return [window]
    parts = int(window.duration // max_s) + 1
    bounds = [window.start]
    for number in range(1, parts):
        ideal = window.start + window.duration * number / parts
        inside = [p for p in cut_points if bounds[-1] + CHUNK_S < p < window.end - CHUNK_S]
        best = min(inside, key=lambda p: abs(p - ideal)) if inside else ideal
        if best - bounds[-1] > max_s:
            best = ideal
        bounds.append(best)
    bounds.append(window.end)
    return [Span(start=a, end=b) for a, b in itertools.pairwise(bounds) if b > a]


def plan_windows(
    slots: Sequence[Span],
    energy: Sequence[Span],
    faceless: Sequence[Span],
    *,
    duration: float,
    max_window_s: float,
    cut_points: Sequence[float] = (),
) -> list[tuple[Span, Literal["sync", "dub_only"]]]:
    """Sync windows in source time: speech padded and merged, cut around faceless spans.

    Pieces shorter than one engine chunk are marked dub-only; long windows are split at the
    silence or shot cut nearest each equal split point.
    """
    merged = merge_spans(
        [*slots, *energy], padding=WINDOW_PADDING_S, merge_gap=MERGE_GAP_S, end=duration
    )
    planned: list[tuple[Span, Literal["sync", "dub_only"]]] = []
    for window in merged:
        for piece in subtract_spans(window, faceless):
            mode: Literal["sync", "dub_only"] = "sync" if piece.duration >= CHUNK_S else "dub_only"
            for part in split_long(piece, max_window_s, cut_points):
                planned.append((part, mode))
    return planned
