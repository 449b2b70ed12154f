"""Display cues from dub lines by broadcast rules, written as SRT and WebVTT (pysubs2).

The rules: at most 42 characters per row and 2 rows per cue, 5/6 s to 7 s on screen, a 2-frame
gap between cues, rows broken at phrase boundaries (after punctuation) where one is near, never
inside a word. A cue above 17 characters per second is kept and flagged ``fast`` for the report.
Where a rule cannot be met (a word longer than a row, a line whose slot is shorter than its cues'
minimum), the cue breaks only that rule, as little as it can. Where the speaker changes, the new
speaker's first cue starts with a dash (``- ``), the broadcast convention for a change of voice.
"""

from __future__ import annotations

import re
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
SPEAKER_CHANGE = "- "
# a phrase break is taken when it leaves the row at least this full
PHRASE_FILL = 0.5
PHRASE_END = re.compile(r"[,;:.!?…)»\"]$")


class Cue(Frozen):
    """One on-screen subtitle."""

    line_id: int
    start: float
    end: float
    text: str
    fast: bool = False

    @property
    def chars_per_second(self) -> float:
        """Reading speed: visible characters over time on screen."""
        return len(self.text.replace("\n", "")) / max(self.end - self.start, 1e-3)


def _phrases(text: str) -> list[str]:
    """Words grouped into phrases that end at punctuation."""
    phrases: list[str] = []
    current: list[str] = []
    for word in text.split():
        current.append(word)
        if PHRASE_END.search(word):
            phrases.append(" ".join(current))
            current = []
    if current:
        phrases.append(" ".join(current))
    return phrases


def _rows(text: str) -> list[str]:
    """Rows of at most 42 characters, whole words only, preferring to end at a phrase."""
    rows: list[str] = []
    row = ""
    for phrase in _phrases(text):
        joined = f"{row} {phrase}".strip()
        if len(joined) <= MAX_CHARS:
            row = joined
            continue
        if row and len(row) >= MAX_CHARS * PHRASE_FILL:
            rows.append(row)
            row = ""
        wrapped = textwrap.wrap(
            f"{row} {phrase}".strip(),
            MAX_CHARS,
            break_long_words=False,
            break_on_hyphens=False,
        )
        rows += wrapped[:-1]
        row = wrapped[-1]
    if row:
        rows.append(row)
    return rows


def chunks(text: str) -> list[str]:
    """The text of each cue of one line: up to 2 rows joined by a newline."""
    rows = _rows(" ".join(text.split()))
    return ["\n".join(rows[i : i + MAX_LINES]) for i in range(0, len(rows), MAX_LINES)]


def _durations(
    weights: list[int], spoken: float, room: float, gap: float, frame: float
) -> list[float]:
    """Time on screen for each cue of a line: its share of the spoken time by characters, within
    5/6 s to 7 s, shrunk to fit ``room`` (the time to the next line less the gaps); the minimum
    holds whenever ``room`` allows it for every cue."""
    total = sum(weights) or 1
    wanted = [min(max(spoken * w / total, MIN_S), MAX_S) for w in weights]
    available = room - gap * (len(weights) - 1)
    if sum(wanted) <= available:
        return wanted
    floor = MIN_S * len(weights)
    if floor <= available:
        extra = sum(w - MIN_S for w in wanted)
        keep = (available - floor) / extra if extra else 0.0
        return [MIN_S + (w - MIN_S) * keep for w in wanted]
    return [max(available / len(weights), frame)] * len(weights)  # at least a frame each


def cues_from_lines(
    lines: Sequence[TranslatedLine], fps: float = 25.0, duration: float | None = None
) -> list[Cue]:
    """The cues of ``lines`` (in time order) by the broadcast rules; a cue never runs into the
    next line's time (nor past ``duration``, when given)."""
    gap = GAP_FRAMES / fps
    cues: list[Cue] = []
    spoken = sorted((line for line in lines if line.text.strip()), key=lambda line: line.start)
    for index, line in enumerate(spoken):
        if index + 1 < len(spoken):
            limit = spoken[index + 1].start - gap
        else:
            limit = line.end + MAX_S if duration is None else max(duration, line.end)
        changed = index > 0 and line.speaker != spoken[index - 1].speaker
        texts = chunks(SPEAKER_CHANGE + line.text if changed else line.text)
        lengths = [len(text.replace("\n", "")) for text in texts]
        times = _durations(lengths, line.end - line.start, limit - line.start, gap, 1 / fps)
        start = line.start
        for text, seconds in zip(texts, times, strict=True):
            cue = Cue(line_id=line.id, start=start, end=start + seconds, text=text)
            cues.append(cue.model_copy(update={"fast": cue.chars_per_second > FAST_CPS}))
            start = cue.end + gap
    return cues


def fast_cues(cues: Sequence[Cue]) -> list[dict[str, object]]:
    """The cues read faster than 17 characters per second, as the report lists them."""
    return [
        {
            "line_id": cue.line_id,
            "start": round(cue.start, 3),
            "end": round(cue.end, 3),
            "chars_per_second": round(cue.chars_per_second, 1),
            "text": cue.text.replace("\n", " "),
        }
        for cue in cues
        if cue.fast
    ]


ROW_EM = 0.55  # DejaVu Sans: average character width in ems


def write_burn_in(cues: Sequence[Cue], path: Path, size: tuple[int, int]) -> Path:
    """An ASS file for burning ``cues`` into a ``size`` (width, height) picture: DejaVu Sans,
    white with a black outline and a soft shadow, bottom centre; the type is as large as 5.5%
    of the height allows while 42 characters still fit in 90% of the width."""
    width, height = size
    font = max(12, round(min(height * 0.055, 0.9 * width / (MAX_CHARS * ROW_EM))))
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "2"})
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname="DejaVu Sans",
        fontsize=font,
        primarycolor=pysubs2.Color(255, 255, 255),
        outlinecolor=pysubs2.Color(0, 0, 0),
        backcolor=pysubs2.Color(0, 0, 0, 110),
        outline=max(1.5, font / 16),
        shadow=max(1.0, font / 30),
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=round(width * 0.05),
        marginr=round(width * 0.05),
        marginv=round(height * 0.06),
    )
    for cue in cues:
        subs.append(
            pysubs2.SSAEvent(
                start=round(cue.start * 1000),
                end=round(cue.end * 1000),
                # a brace would open an override tag and hide the text
                text=cue.text.replace("{", "\\{").replace("\n", "\\N"),
            )
        )
    with atomic_output(path) as tmp:
        subs.save(str(tmp), format_="ass")
    return path


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
