"""Turn recognised words into dub lines: split at pauses, sentence ends and a length cap."""

from __future__ import annotations

from collections.abc import Sequence

from localization_core.domain import DubLine, Word

PAUSE_S = 0.5
MAX_LINE_S = 8.0
SENTENCE_END = (".", "?", "!", "…", "。", "？", "！", "؟")


def _ends_sentence(word: Word) -> bool:
    return word.text.strip().endswith(SENTENCE_END)


def line_of(words: Sequence[Word], line_id: int, speaker: str) -> DubLine:
    """One dub line of ``words`` (in order), spoken by ``speaker``."""
    text = "".join(word.text for word in words)
    return DubLine(
        id=line_id,
        start=words[0].start,
        end=max(words[-1].end, words[0].start),
        text=" ".join(text.split()),
        speaker=speaker,
        words=tuple(words),
    )


def _best_break(words: list[Word]) -> int:
    """Where a too-long line splits: after a comma, else at the widest pause near the middle."""
    middle = (words[0].start + words[-1].end) / 2

    def score(index: int) -> tuple[bool, float, float]:
        gap = round(words[index + 1].start - words[index].end, 2)
        comma = words[index].text.strip().endswith((",", ";", ":", "、", "，"))
        return (comma, gap, -abs(words[index].end - middle))

    return max(range(len(words) - 1), key=score) + 1 if len(words) > 1 else len(words)


def split_into_dub_lines(
    words: Sequence[Word],
    *,
    speaker: str = "S1",
    pause_s: float = PAUSE_S,
    max_line_s: float = MAX_LINE_S,
    first_id: int = 1,
) -> list[DubLine]:
    """Group words into dub lines.

    A line ends after a sentence-final word, before a pause of at least ``pause_s``, or before
    the word that would make it longer than ``max_line_s``.
    """
    lines: list[DubLine] = []
    current: list[Word] = []
    for word in words:
        if not word.text.strip():
            continue
        if current and word.start - current[-1].end >= pause_s:
            lines.append(line_of(current, first_id + len(lines), speaker))
            current = []
        current.append(word)
        while len(current) > 1 and current[-1].end - current[0].start > max_line_s:
            cut = _best_break(current)
            lines.append(line_of(current[:cut], first_id + len(lines), speaker))
            current = current[cut:]
        if _ends_sentence(word):
            lines.append(line_of(current, first_id + len(lines), speaker))
            current = []
    if current:
        lines.append(line_of(current, first_id + len(lines), speaker))
    return lines
