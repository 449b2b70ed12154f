"""Pure planning functions: isochrony fits and sync windows (DESIGN section 4)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
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
EPS = 1e-6
BISECT_MIN_S = 3.0
Mode = Literal["sync", "dub_only"]


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


def silence_points(energy: Sequence[Span]) -> list[float]:
    """The middle of every pause between consecutive speech spans: where a split cuts no word."""
    ordered = sorted(energy, key=lambda span: span.start)
    return [(a.end + b.start) / 2 for a, b in itertools.pairwise(ordered) if b.start > a.end]


def chunk_frames(seconds: float) -> int:
    """Whole engine frames (25 fps) in ``seconds``, tolerant of float noise."""
    return math.floor(seconds * ENGINE_FPS + EPS)


def _grid(start: float, frames: int) -> float:
    """``start`` plus ``frames`` engine frames."""
    return start + frames / ENGINE_FPS


def _split_points(piece: Span, max_s: float, cut_points: Sequence[float]) -> list[float]:
    """Inner bounds splitting ``piece`` into parts of at most ``max_s`` seconds, each a whole
    number of engine chunks from the piece start, as near the cut points as the grid allows."""
    chunks = chunk_frames(piece.duration) // CHUNK_FRAMES
    max_chunks = max(1, chunk_frames(max_s) // CHUNK_FRAMES)
    if chunks <= max_chunks:
        return []
    parts = math.ceil(chunks / max_chunks)
    bounds: list[int] = [0]
    for number in range(1, parts):
        ideal = piece.start + piece.duration * number / parts
        near = [p for p in cut_points if piece.start < p < piece.end]
        target = min(near, key=lambda p: abs(p - ideal)) if near else ideal
        chunk = round((target - piece.start) / CHUNK_S)
        remaining = parts - number
        low = max(bounds[-1] + 1, chunks - remaining * max_chunks)
        high = min(bounds[-1] + max_chunks, chunks - remaining)
        bounds.append(min(max(chunk, low), high))
    return [_grid(piece.start, b * CHUNK_FRAMES) for b in bounds[1:]]


def _frame_piece(
    piece: Span, room_before: float, room_after: float, max_s: float, cuts: Sequence[float]
) -> list[tuple[Span, Mode]]:
    """Sync parts whose lengths are 16-frame multiples, plus a dub-only remainder when the
    piece cannot grow to the next multiple without entering a faceless span or a neighbour."""
    frames = chunk_frames(piece.duration)
    if frames < CHUNK_FRAMES:
        return [(piece, "dub_only")]
    missing = (-frames) % CHUNK_FRAMES
    need = missing / ENGINE_FPS
    start, end = piece.start, piece.end
    if missing and need <= room_after + EPS:
        end = _grid(start, frames + missing)
    elif missing and need <= room_before + EPS:
        start = max(0.0, end - (frames + missing) / ENGINE_FPS)
    synced_end = _grid(start, chunk_frames(end - start) // CHUNK_FRAMES * CHUNK_FRAMES)
    synced = Span(start=start, end=synced_end)
    bounds = [start, *_split_points(synced, max_s, cuts), synced_end]
    planned: list[tuple[Span, Mode]] = [
        (Span(start=a, end=b), "sync") for a, b in itertools.pairwise(bounds)
    ]
    if end - synced_end > EPS:
        planned.append((Span(start=synced_end, end=end), "dub_only"))
    return planned


def _room(piece: Span, blockers: Sequence[Span], duration: float) -> tuple[float, float]:
    """Free seconds before and after ``piece`` up to the nearest blocker or the video's edge."""
    after = min([b.start for b in blockers if b.start >= piece.end - EPS] + [duration])
    before = max([b.end for b in blockers if b.end <= piece.start + EPS] + [0.0])
    return max(0.0, piece.start - before), max(0.0, after - piece.end)


def plan_windows(
    slots: Sequence[Span],
    energy: Sequence[Span],
    faceless: Sequence[Span],
    *,
    duration: float,
    max_window_s: float,
    cut_points: Sequence[float] = (),
) -> list[tuple[Span, Mode]]:
    """Windows in source time (DESIGN section 4): slots and dub energy padded 0.4 s, neighbours
    closer than 2.0 s merged, cut around faceless spans. Sync windows last a multiple of 16
    engine frames (25 fps), grown into free time when there is room and otherwise shortened, the
    rest passing as dub-only; pieces under one chunk are dub-only; long ones are split at the
    silence or shot cut nearest each equal split point."""
    holes = merge_spans(faceless, padding=0.0, merge_gap=0.0, end=duration)
    merged = merge_spans(
        [*slots, *energy], padding=WINDOW_PADDING_S, merge_gap=MERGE_GAP_S, end=duration
    )
    planned: list[tuple[Span, Mode]] = []
    for window in merged:
        others = [*holes, *(m for m in merged if m != window)]
        for piece in subtract_spans(window, holes):
            before, after = _room(piece, others, duration)
            planned.extend(_frame_piece(piece, before, after, max_window_s, cut_points))
    return planned


def _midpoint_on_grid(span: Span) -> float | None:
    """The 16-frame boundary nearest the middle of ``span``, strictly inside it."""
    chunks = round(span.duration / 2 / CHUNK_S)
    for candidate in (chunks, chunks + 1, chunks - 1):
        point = _grid(span.start, candidate * CHUNK_FRAMES)
        if span.start + EPS < point < span.end - EPS:
            return point
    return None


def bisect_window(
    window: Span, engine_call: Callable[[Span], bool], *, min_s: float = BISECT_MIN_S
) -> list[tuple[Span, bool]]:
    """Run ``engine_call`` on ``window``; when it fails, on halves split at the 16-frame
    boundary nearest the midpoint, recursively down to about ``min_s``. Returns the pieces, in
    order and tiling the window, with whether the engine succeeded (failed leaves go dub-only).

    The depth is fixed by the window (ceil(log2(W / min_s))), so one failing spot inside the
    window costs at most 4 * depth + 1 engine calls."""
    depth_limit = math.ceil(math.log2(window.duration / min_s)) if window.duration > min_s else 0

    def run(span: Span, depth: int) -> list[tuple[Span, bool]]:
        if engine_call(span):
            return [(span, True)]
        middle = _midpoint_on_grid(span) if depth < depth_limit else None
        if middle is None:
            return [(span, False)]
        left, right = Span(start=span.start, end=middle), Span(start=middle, end=span.end)
        return run(left, depth + 1) + run(right, depth + 1)

    return run(window, 0)


def engine_frame_map(
    source_times: Sequence[float], windows: Sequence[Span]
) -> list[tuple[int, int] | None]:
    """For every source frame: ``(window index, engine frame)`` of the 25 fps engine frame
    nearest in time when the frame lies in a window, else None (the source frame is kept).
    One entry per source frame, so the composite has exactly the source's frame count."""
    mapping: list[tuple[int, int] | None] = []
    ordered = sorted(enumerate(windows), key=lambda item: item[1].start)
    cursor = 0
    for moment in source_times:
        while cursor < len(ordered) and ordered[cursor][1].end <= moment + EPS:
            cursor += 1
        if cursor < len(ordered) and ordered[cursor][1].start <= moment + EPS:
            index, window = ordered[cursor]
            frames = max(1, round(window.duration * ENGINE_FPS))
            nearest = round((moment - window.start) * ENGINE_FPS)
            mapping.append((index, min(max(nearest, 0), frames - 1)))
        else:
            mapping.append(None)
    return mapping
