"""Property tests for the planning rules of DESIGN section 4 (at least 200 examples each)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localization_core.domain import Span
from localization_core.timing import (
    BREATH_S,
    CHUNK_FRAMES,
    ENGINE_FPS,
    MAX_COMPRESS,
    MAX_STRETCH,
    MERGE_GAP_S,
    WINDOW_PADDING_S,
    Mode,
    bisect_window,
    engine_frame_map,
    plan_fit,
    plan_windows,
)

EPS = 1e-6
EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FPS_CHOICES = [24.0, 25.0, 30000 / 1001, 30.0]


def uncovered(required: Span, covers: Sequence[Span]) -> float:
    """Seconds of ``required`` outside every span of ``covers`` (independent arithmetic)."""
    points = sorted(
        {required.start, required.end}
        | {p for c in covers for p in (c.start, c.end) if required.start < p < required.end}
    )
    missing = 0.0
    for a, b in itertools.pairwise(points):
        middle = (a + b) / 2
        if not any(c.start - EPS <= middle <= c.end + EPS for c in covers):
            missing += b - a
    return missing


def overlap(a: Span, b: Span) -> float:
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


@st.composite
def timelines(draw: st.DrawFn) -> dict[str, object]:
    """A video with dub slots, energy spans and faceless islands, including the edge cases:
    islands at padded window edges, gaps exactly equal to the merge gap, spans at the end."""
    duration = draw(st.integers(200, 9000)) / 100

    def t() -> float:
        return draw(st.integers(0, int(duration * 100))) / 100

    slots: list[Span] = []
    for _ in range(draw(st.integers(0, 8))):
        start = t()
        length = draw(st.integers(5, 800)) / 100
        slots.append(Span(start=start, end=min(duration, start + length)))
    if draw(st.booleans()) and slots:  # a neighbour exactly one merge gap away after padding
        first = slots[0]
        start = first.end + 2 * WINDOW_PADDING_S + MERGE_GAP_S
        if start < duration:
            slots.append(Span(start=start, end=min(duration, start + 1.0)))
    if draw(st.booleans()):  # speech running to the very end of the video
        length = draw(st.integers(5, 300)) / 100
        slots.append(Span(start=max(0.0, duration - length), end=duration))
    energy = [
        Span(start=max(0.0, s.start + draw(st.integers(-30, 30)) / 100), end=s.end)
        for s in slots
        if draw(st.booleans()) and s.end > s.start + 0.3
    ]
    faceless: list[Span] = []
    for _ in range(draw(st.integers(0, 4))):
        start = t()
        faceless.append(
            Span(start=start, end=min(duration, start + draw(st.integers(1, 400)) / 100))
        )
    if draw(st.booleans()) and slots:  # an island right at a padded window edge
        edge = min(duration, slots[0].end + WINDOW_PADDING_S)
        faceless.append(Span(start=edge, end=min(duration, edge + 0.5)))
    if draw(st.booleans()):  # an island touching the end of the video
        faceless.append(
            Span(start=max(0.0, duration - draw(st.integers(1, 200)) / 100), end=duration)
        )
    max_window = draw(st.sampled_from([30.0, 120.0, 5.0]))
    return {"duration": duration, "slots": slots, "energy": energy, "faceless": faceless,
            "max_window": max_window}  # fmt: skip


def plan(case: dict[str, object]) -> list[tuple[Span, Mode]]:
    return plan_windows(
        case["slots"],  # type: ignore[arg-type]
        case["energy"],  # type: ignore[arg-type]
        case["faceless"],  # type: ignore[arg-type]
        duration=case["duration"],  # type: ignore[arg-type]
        max_window_s=case["max_window"],  # type: ignore[arg-type]
    )


@EXAMPLES
@given(timelines())
def test_windows_sorted_disjoint_inside_and_off_faceless_frames(case: dict[str, object]) -> None:
    windows = [span for span, _ in plan(case)]
    duration = float(case["duration"])  # type: ignore[arg-type]
    for span in windows:
        assert -EPS <= span.start < span.end <= duration + EPS
        for hole in case["faceless"]:  # type: ignore[attr-defined]
            assert overlap(span, hole) < EPS, (span, hole)
    for left, right in itertools.pairwise(windows):
        assert left.end <= right.start + EPS


@EXAMPLES
@given(timelines())
def test_windows_cover_every_slot_and_energy_span_except_faceless(case: dict[str, object]) -> None:
    windows = [span for span, _ in plan(case)]
    faceless: list[Span] = case["faceless"]  # type: ignore[assignment]
    for speech in [*case["slots"], *case["energy"]]:  # type: ignore[misc]
        assert uncovered(speech, [*windows, *faceless]) < 1e-4, (speech, windows)


@EXAMPLES
@given(timelines())
def test_sync_windows_are_16_frame_multiples_within_the_engine_maximum(
    case: dict[str, object],
) -> None:
    for span, mode in plan(case):
        frames = span.duration * ENGINE_FPS
        if mode == "sync":
            assert abs(frames - round(frames)) < 1e-4 and round(frames) % CHUNK_FRAMES == 0
            assert round(frames) >= CHUNK_FRAMES
            assert span.duration <= float(case["max_window"]) + EPS  # type: ignore[arg-type]


@st.composite
def frame_times(draw: st.DrawFn) -> list[float]:
    """Source frame timestamps: constant 24/25/29.97/30 fps, or variable frame rate."""
    count = draw(st.integers(1, 3000))
    if draw(st.booleans()):
        fps = draw(st.sampled_from(FPS_CHOICES))
        return [k / fps for k in range(count)]
    steps = draw(st.lists(st.integers(16, 67), min_size=count, max_size=count))  # 15-60 fps
    times, now = [], 0.0
    for step in steps:
        times.append(now)
        now += step / 1000
    return times


@EXAMPLES
@given(frame_times(), timelines())
def test_mapping_back_keeps_the_source_frame_count_and_nearest_frames(
    times: list[float], case: dict[str, object]
) -> None:
    windows = [span for span, mode in plan(case) if mode == "sync"]
    mapping = engine_frame_map(times, windows)
    assert len(mapping) == len(times)
    for moment, entry in zip(times, mapping, strict=True):
        inside = [i for i, w in enumerate(windows) if w.start - EPS <= moment < w.end - EPS]
        if entry is None:
            assert not inside
            continue
        index, frame = entry
        window = windows[index]
        assert inside == [index]
        assert 0 <= frame < round(window.duration * ENGINE_FPS)
        assert abs(window.start + frame / ENGINE_FPS - moment) <= 1 / ENGINE_FPS + EPS


@EXAMPLES
@given(
    synth=st.integers(0, 1500).map(lambda v: v / 100),
    start=st.integers(0, 3000).map(lambda v: v / 100),
    slot=st.integers(1, 800).map(lambda v: v / 100),
    gap=st.integers(0, 400).map(lambda v: v / 100),
)
def test_fit_plans_respect_limits_and_never_overlap_the_next_line(
    synth: float, start: float, slot: float, gap: float
) -> None:
    line = Span(start=start, end=start + slot)
    next_start = line.end + gap
    fit = plan_fit(synth, line, next_start)
    assert 1 / MAX_STRETCH - EPS <= fit.ratio <= MAX_COMPRESS + EPS
    assert line.start + fit.placed_s <= next_start + EPS, "never overlaps the next line"
    room = max(slot, next_start - BREATH_S - line.start)
    assert fit.placed_s <= room + EPS, "keeps the breath before the next line"
    if 0 < synth <= MAX_COMPRESS * room - EPS:
        assert not fit.cut, "1.2x plus the borrowable gap was enough"
        assert abs(fit.placed_s * fit.ratio - synth) < 1e-6
    if fit.cut:
        assert synth > MAX_COMPRESS * room - EPS


@st.composite
def islands(draw: st.DrawFn) -> tuple[Span, Span | None]:
    chunks = draw(st.integers(1, 187))  # up to ~120 s
    start = draw(st.integers(0, 500)) / 100
    window = Span(start=start, end=start + chunks * CHUNK_FRAMES / ENGINE_FPS)
    if not draw(st.booleans()):
        return window, None
    at = window.start + draw(st.floats(0, 1)) * window.duration
    width = draw(st.integers(0, 100)) / 100
    return window, Span(start=at, end=min(window.end, at + width))


@EXAMPLES
@given(islands())
def test_bisect_tiles_the_window_and_one_island_costs_few_calls(
    case: tuple[Span, Span | None],
) -> None:
    window, island = case
    calls: list[Span] = []

    def engine(span: Span) -> bool:
        calls.append(span)
        if island is None:
            return True
        touches = span.start <= island.end and island.start <= span.end
        return not touches

    pieces = bisect_window(window, engine)
    assert pieces[0][0].start == window.start and abs(pieces[-1][0].end - window.end) < EPS
    for (left, _), (right, _) in itertools.pairwise(pieces):
        assert abs(left.end - right.start) < EPS
        offset = (left.end - window.start) * ENGINE_FPS
        assert abs(offset - round(offset)) < 1e-4 and round(offset) % CHUNK_FRAMES == 0
    depth = math.ceil(math.log2(window.duration / 3.0)) if window.duration > 3.0 else 0
    assert len(calls) <= 4 * depth + 1
    if island is None:
        assert pieces == [(window, True)] and len(calls) == 1
    else:
        assert all(
            ok
            == (
                overlap(span, island) == 0
                and not (span.start <= island.end and island.start <= span.end)
            )
            for span, ok in pieces
        )
