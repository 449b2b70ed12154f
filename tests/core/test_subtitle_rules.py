"""Broadcast subtitle rules over generated lines: every cue meets every rule it can meet."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from localization_core.domain import TranslatedLine
from localization_core.subtitles import (
    FAST_CPS,
    GAP_FRAMES,
    MAX_CHARS,
    MAX_LINES,
    MAX_S,
    MIN_S,
    Cue,
    chunks,
    cues_from_lines,
    fast_cues,
)

FPS = 25.0
EPS = 1e-6
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé", min_size=1, max_size=14)
PUNCT = st.sampled_from(["", "", "", ",", ".", "?", ";"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.tuples(WORD, PUNCT), min_size=1, max_size=40))
    return " ".join(word + mark for word, mark in words)


@st.composite
def timed_lines(draw: st.DrawFn) -> list[TranslatedLine]:
    count = draw(st.integers(1, 6))
    lines, at = [], draw(st.floats(0.0, 3.0))
    for index in range(count):
        at += draw(st.floats(0.0, 2.0))
        length = draw(st.floats(0.2, 12.0))
        lines.append(
            TranslatedLine(
                id=index + 1, start=round(at, 3), end=round(at + length, 3),
                source_text="x", text=draw(texts()),
            )
        )  # fmt: skip
        at += length
    return lines


def _words(text: str) -> list[str]:
    return text.split()


@settings(max_examples=300, deadline=None)
@given(texts())
def test_rows_hold_42_characters_and_never_split_a_word(text: str) -> None:
    parts = chunks(text)
    assert [w for part in parts for w in _words(part)] == _words(text), "no word lost or split"
    for part in parts:
        rows = part.split("\n")
        assert 1 <= len(rows) <= MAX_LINES
        for row in rows:
            assert len(row) <= MAX_CHARS or len(_words(row)) == 1, row


def test_rows_break_after_a_phrase_when_one_is_near() -> None:
    text = "Nous avons parlé de la météo, puis du travail et de la famille ce matin."
    rows = chunks(text)[0].split("\n")
    assert rows[0] == "Nous avons parlé de la météo,", rows


def _room(line: TranslatedLine, following: TranslatedLine | None) -> float:
    gap = GAP_FRAMES / FPS
    limit = following.start - gap if following else line.end + MAX_S
    return limit - line.start


@settings(max_examples=300, deadline=None)
@given(timed_lines())
def test_cues_keep_the_timing_rules_they_can_meet(lines: list[TranslatedLine]) -> None:
    cues = cues_from_lines(lines, fps=FPS)
    gap = GAP_FRAMES / FPS
    by_line: dict[int, list[Cue]] = {}
    for cue in cues:
        by_line.setdefault(cue.line_id, []).append(cue)
    for index, line in enumerate(lines):
        mine = by_line[line.id]
        assert " ".join(c.text.replace("\n", " ") for c in mine).split() == line.text.split()
        following = lines[index + 1] if index + 1 < len(lines) else None
        room = _room(line, following)
        can_meet_minimum = room >= len(mine) * MIN_S + (len(mine) - 1) * gap
        for cue in mine:
            assert cue.end - cue.start <= MAX_S + EPS
            if can_meet_minimum:
                assert cue.end - cue.start >= MIN_S - EPS, (cue, room)
            if room >= len(mine) * (1 / FPS + gap):  # a frame each fits: the gap holds
                assert cue.end <= line.start + room + EPS, "runs into the next line's gap"
            assert cue.fast == (cue.chars_per_second > FAST_CPS)
        for first, second in itertools.pairwise(mine):
            assert abs(second.start - first.end - gap) <= EPS, "2 frames between a line's cues"


def test_fast_cues_are_listed_with_their_reading_speed() -> None:
    line = TranslatedLine(
        id=4, start=1.0, end=2.0, source_text="x",
        text="Une phrase beaucoup trop longue pour une seule seconde",
    )  # fmt: skip
    following = TranslatedLine(id=5, start=2.0, end=3.0, source_text="y", text="Oui.")
    cues = cues_from_lines([line, following], fps=FPS)
    listed = fast_cues(cues)
    assert [item["line_id"] for item in listed] == [4]
    assert float(str(listed[0]["chars_per_second"])) > FAST_CPS
    assert re.search("longue", str(listed[0]["text"]))
