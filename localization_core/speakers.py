"""Who says each dub line: the diarizer's turns laid over the transcript.

A line goes to the speaker whose turns overlap it most. When its words have timestamps and the
speaker changes inside it, it is split at the change (a run of fewer than ``MIN_RUN_WORDS``
words is taken as the diarizer's noise and stays with its neighbour). Lines are numbered anew
in time order.
"""

from __future__ import annotations

from collections.abc import Sequence

from localization_core.domain import DubLine, Span, Transcript, Turn, Word
from localization_core.dub_lines import line_of

MERGE_GAP_S = 0.3  # words closer than this are one stretch of speech for the diarizer
MIN_RUN_WORDS = 2


def speech_spans(transcript: Transcript) -> list[Span]:
    """Where the transcript heard speech: its words joined across gaps under ``MERGE_GAP_S``
    (a line without words counts whole)."""
    spans: list[Span] = []
    for line in transcript.lines:
        pieces = [(w.start, w.end) for w in line.words] or [(line.start, line.end)]
        for start, end in pieces:
            if spans and start - spans[-1].end < MERGE_GAP_S:
                spans[-1] = Span(start=spans[-1].start, end=max(spans[-1].end, end))
            else:
                spans.append(Span(start=start, end=max(start, end)))
    return spans


def speaker_at(turns: Sequence[Turn], start: float, end: float) -> str:
    """The speaker who talks most within [start, end]; without overlap, the nearest turn's."""
    overlap: dict[str, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda speaker: overlap[speaker])
    middle = (start + end) / 2
    nearest = min(turns, key=lambda turn: max(turn.start - middle, middle - turn.end, 0.0))
    return nearest.speaker


def _runs(words: Sequence[Word], turns: Sequence[Turn]) -> list[tuple[str, list[Word]]]:
    """Consecutive words by speaker, short runs folded into the run before (or after)."""
    runs: list[tuple[str, list[Word]]] = []
    for word in words:
        speaker = speaker_at(turns, word.start, max(word.end, word.start + 0.01))
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(word)
        else:
            runs.append((speaker, [word]))
    folded: list[tuple[str, list[Word]]] = []
    for speaker, run in runs:
        if folded and (len(run) < MIN_RUN_WORDS or folded[-1][0] == speaker):
            folded[-1][1].extend(run)
        elif folded and len(folded[-1][1]) < MIN_RUN_WORDS:
            folded[-1] = (speaker, folded[-1][1] + run)
        else:
            folded.append((speaker, list(run)))
    return folded


def assign_speakers(transcript: Transcript, turns: Sequence[Turn]) -> Transcript:
    """``transcript`` with each line's speaker from ``turns``, split at speaker changes."""
    if not turns or not transcript.lines:
        return transcript
    lines: list[DubLine] = []
    for line in transcript.lines:
        words = [word for word in line.words if word.text.strip()]
        if not words:
            speaker = speaker_at(turns, line.start, line.end)
            lines.append(line.model_copy(update={"id": len(lines) + 1, "speaker": speaker}))
            continue
        runs = _runs(words, turns)
        if len(runs) == 1:
            update = {"id": len(lines) + 1, "speaker": runs[0][0]}
            lines.append(line.model_copy(update=update))
            continue
        for speaker, run in runs:
            lines.append(line_of(run, len(lines) + 1, speaker))
    return transcript.model_copy(update={"lines": tuple(lines)})


def talk_time(lines: Sequence[DubLine]) -> dict[str, float]:
    """Seconds of speech per speaker (the lines' spans), in order of first appearance."""
    seconds: dict[str, float] = {}
    for line in lines:
        seconds[line.speaker] = seconds.get(line.speaker, 0.0) + line.end - line.start
    return {speaker: round(total, 3) for speaker, total in seconds.items()}
