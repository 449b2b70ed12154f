"""Review between stages (DESIGN section 9): the gate's state, review files and reviewers' edits.

A localization's review state lives at ``localizations/<video>/<lang>/review.json``: which
machine translation a reviewer approved (by its digest: a new machine translation needs a new
approval) and the reviewer's version of every line they changed. The edits are applied on top of
whatever the translator produces, so a later re-translation never discards them.

A review file lists every dub line: SRT (cue number = line id; text and timing) or CSV (id,
start, end, speaker, source_text, translation; ``source_text`` is there to read, not to edit).
A submitted file is checked whole and rejected with one line naming the first problem, or it
becomes the new set of edits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import srt
from pydantic import Field

from localization_core.domain import DubLine, Frozen, Span, Transcript, TranslatedLine, Translation
from localization_core.errors import InvalidInputError, ObjectNotFoundError
from localization_core.media import atomic_output
from localization_core.storage.base import StorageBackend

GateStatus = Literal["approved", "awaiting_review"]
CSV_COLUMNS = ("id", "start", "end", "speaker", "source_text", "translation")
TRANSCRIPT_COLUMNS = ("id", "start", "end", "speaker", "text")
SPEAKER = re.compile(r"[A-Za-z0-9_-]{1,32}")
TIME_TOLERANCE_S = 0.001
REVIEW_SUFFIXES = (".csv", ".srt")


class LineEdit(Frozen):
    """A reviewer's version of one dub line."""

    id: int = Field(ge=1)
    start: float
    end: float
    speaker: str
    text: str


class ReviewState(Frozen):
    """What reviewers decided for one localization."""

    approved: str | None = Field(None, description="digest of the machine translation approved")
    approved_by: str = ""
    approved_at: datetime | None = None
    edits: tuple[LineEdit, ...] = ()
    submissions: int = Field(0, description="review files accepted so far")

    def digest(self) -> str:
        """Identifies the decisions: a new approval or edit changes it."""
        basis = self.model_dump_json(include={"approved", "edits"})
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    def edits_digest(self) -> str:
        """Identifies the edits alone (an approval changes no line)."""
        basis = self.model_dump_json(include={"edits"})
        return hashlib.sha256(basis.encode()).hexdigest()[:16]


def review_key(video_id: str, language: str) -> str:
    """Storage key of a localization's review state."""
    return f"localizations/{video_id}/{language}/review.json"


def _read_state(storage: StorageBackend, key: str) -> ReviewState:
    try:
        return ReviewState.model_validate_json(storage.read_bytes(key))
    except ObjectNotFoundError:
        return ReviewState()


def _write_state(storage: StorageBackend, key: str, state: ReviewState) -> ReviewState:
    storage.write_bytes(key, state.model_dump_json(indent=2).encode())
    return state


def load_review(storage: StorageBackend, video_id: str, language: str) -> ReviewState:
    """The review state of one localization (empty before any decision)."""
    return _read_state(storage, review_key(video_id, language))


def save_review(
    storage: StorageBackend, video_id: str, language: str, state: ReviewState
) -> ReviewState:
    """Write the review state atomically."""
    return _write_state(storage, review_key(video_id, language), state)


def translation_digest(translation: Translation) -> str:
    """Identifies a machine translation's lines (what an approval applies to)."""
    lines = [line.model_dump(mode="json") for line in translation.lines]
    return hashlib.sha256(json.dumps(lines, sort_keys=True).encode()).hexdigest()[:16]


def gate_status(policy: str, state: ReviewState, machine: Translation) -> GateStatus:
    """``approved`` under the auto policy or once this machine translation was approved."""
    if policy == "auto" or state.approved == translation_digest(machine):
        return "approved"
    return "awaiting_review"


def _approved(state: ReviewState, digest: str, reviewer: str) -> ReviewState:
    if state.approved == digest:
        return state
    update = {"approved": digest, "approved_by": reviewer, "approved_at": datetime.now(UTC)}
    return state.model_copy(update=update)


def approve(state: ReviewState, machine: Translation, reviewer: str) -> ReviewState:
    """``state`` with ``machine`` approved by ``reviewer`` (unchanged if it already was)."""
    return _approved(state, translation_digest(machine), reviewer)


def apply_edits(machine: Translation, state: ReviewState) -> Translation:
    """The translation as reviewers left it: their text, timing and speaker where they changed a
    line. A retimed line keeps its source slot, which sets the voice's pace."""
    edits = {edit.id: edit for edit in state.edits}
    lines = []
    for line in machine.lines:
        edit = edits.get(line.id)
        if edit is None:
            lines.append(line)
            continue
        moved = (edit.start, edit.end) != (line.start, line.end)
        update = {"start": edit.start, "end": edit.end, "speaker": edit.speaker, "text": edit.text}
        if moved and line.source_slot is None:
            update["source_slot"] = line.slot
        lines.append(line.model_copy(update=update))
    return machine.model_copy(update={"lines": tuple(lines)})


def edited_ids(machine: Translation, state: ReviewState) -> list[int]:
    """Ids of the lines a reviewer changed."""
    known = {line.id for line in machine.lines}
    return [edit.id for edit in state.edits if edit.id in known]


def _as_edit(line: TranslatedLine | DubLine) -> LineEdit:
    return LineEdit(
        id=line.id, start=line.start, end=line.end, speaker=line.speaker, text=line.text
    )


def _same(a: LineEdit, b: LineEdit) -> bool:
    close = abs(a.start - b.start) <= TIME_TOLERANCE_S and abs(a.end - b.end) <= TIME_TOLERANCE_S
    return close and a.speaker == b.speaker and " ".join(a.text.split()) == " ".join(b.text.split())


def submit(
    state: ReviewState, machine: Translation, rows: Sequence[LineEdit]
) -> tuple[ReviewState, list[int]]:
    """The state after a validated review file and the ids whose line it changed. Lines equal to
    the machine's carry no edit (a reverted line follows the translator again)."""
    return _submitted(state, machine.lines, apply_edits(machine, state).lines, rows)


def _submitted(
    state: ReviewState,
    machine: Sequence[TranslatedLine | DubLine],
    reviewed: Sequence[TranslatedLine | DubLine],
    rows: Sequence[LineEdit],
) -> tuple[ReviewState, list[int]]:
    current = {line.id: _as_edit(line) for line in reviewed}
    originals = {line.id: _as_edit(line) for line in machine}
    changed = [row.id for row in rows if not _same(row, current[row.id])]
    edits = tuple(row for row in rows if not _same(row, originals[row.id]))
    update = {"edits": edits, "submissions": state.submissions + 1}
    return state.model_copy(update=update), changed


# --- review files ---------------------------------------------------------------------------


def export_review(translation: Translation, path: Path) -> Path:
    """Write the review file of ``translation`` (CSV or SRT, by suffix) atomically."""
    return _write_review_file(path, lambda: _csv_text(translation), lambda: _srt_text(translation))


def _write_review_file(
    path: Path, csv_text: Callable[[], str], srt_text: Callable[[], str]
) -> Path:
    suffix = path.suffix.lower()
    if suffix not in REVIEW_SUFFIXES:
        raise InvalidInputError(f"{path.name}: a review file is .csv or .srt")
    text = csv_text() if suffix == ".csv" else srt_text()
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _csv(columns: tuple[str, ...], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _timed(line: TranslatedLine | DubLine) -> list[object]:
    return [line.id, f"{line.start:.3f}", f"{line.end:.3f}", line.speaker]


def _csv_text(translation: Translation) -> str:
    rows = ([*_timed(line), line.source_text, line.text] for line in translation.lines)
    return _csv(CSV_COLUMNS, rows)


def _transcript_csv(transcript: Transcript) -> str:
    return _csv(TRANSCRIPT_COLUMNS, ([*_timed(line), line.text] for line in transcript.lines))


def _srt_text(translation: Translation | Transcript) -> str:
    cues = [
        srt.Subtitle(
            index=line.id,
            start=timedelta(seconds=line.start),
            end=timedelta(seconds=line.end),
            content=line.text or "-",
        )
        for line in translation.lines
    ]
    composed: str = srt.compose(cues, reindex=False)
    return composed


def read_review_file(path: Path, speakers: dict[int, str]) -> list[LineEdit]:
    """The rows of a review file (``speakers``: each id's speaker, for SRT, which has none),
    or one ``InvalidInputError`` line naming the file and the problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return parse_review(raw, path.name, speakers)


def parse_review(
    raw: bytes, name: str, speakers: dict[int, str], columns: tuple[str, ...] = CSV_COLUMNS
) -> list[LineEdit]:
    """Rows of review-file bytes named ``name`` (see ``read_review_file``); a CSV has
    ``columns`` (the translation's by default, ``TRANSCRIPT_COLUMNS`` for a transcript)."""
    suffix = Path(name).suffix.lower()
    if suffix not in REVIEW_SUFFIXES:
        raise InvalidInputError(f"{name}: a review file is .csv or .srt")
    text = _decoded(raw, name)
    try:
        return _parse_csv(text, columns) if suffix == ".csv" else _parse_srt(text, speakers)
    except _ParseError as exc:
        raise InvalidInputError(f"{name}: line {exc.line}: {exc.reason}") from None


def _decoded(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"{name}: not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from None


class _ParseError(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def _seconds(value: str, line: int, column: str) -> float:
    text = value.strip()
    try:
        if ":" in text:
            seconds: float = srt.srt_timestamp_to_timedelta(text.replace(".", ",")).total_seconds()
        else:
            seconds = float(text)
        if not math.isfinite(seconds):
            raise ValueError(text)
        return seconds
    except ValueError:
        reason = f"{column} {value!r} is not a time (seconds or HH:MM:SS,mmm)"
        raise _ParseError(line, reason) from None


def _parse_csv(text: str, columns: tuple[str, ...]) -> list[LineEdit]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(cell.strip().lower() for cell in header) != columns:
        raise _ParseError(1, f"the header must be {','.join(columns)}")
    rows = []
    try:
        for cells in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                raise _ParseError(number, f"{len(cells)} fields, expected {len(columns)}")
            rows.append(_csv_row(cells, number))
    except csv.Error as exc:
        raise _ParseError(reader.line_num, str(exc)) from None
    return rows


def _csv_row(cells: list[str], number: int) -> LineEdit:
    ident, start, end, speaker, text = *cells[:4], cells[-1]
    if not (ident.strip().isascii() and ident.strip().isdigit()) or int(ident) < 1:
        raise _ParseError(number, f"id {ident!r} is not a line id (1, 2, ...)")
    if not SPEAKER.fullmatch(speaker.strip()):
        raise _ParseError(number, f"speaker {speaker!r} is not a speaker id (e.g. S1)")
    return LineEdit(
        id=int(ident),
        start=_seconds(start, number, "start"),
        end=_seconds(end, number, "end"),
        speaker=speaker.strip(),
        text=" ".join(text.split()),
    )


def _parse_srt(text: str, speakers: dict[int, str]) -> list[LineEdit]:
    try:
        cues = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise _ParseError(text.count("\n", 0, exc.expected_start) + 1, _srt_problem(exc)) from None
    for cue in cues:
        if not isinstance(cue.index, int) or cue.index < 1:
            line = text.count("\n", 0, text.find(srt.timedelta_to_srt_timestamp(cue.start))) + 1
            raise _ParseError(max(line - 1, 1), f"cue number {cue.index!r} is not a line id")
    return [
        LineEdit(
            id=cue.index,
            start=cue.start.total_seconds(),
            end=cue.end.total_seconds(),
            speaker=speakers.get(cue.index, "S1"),
            text=" ".join(cue.content.split()) if cue.content.strip() != "-" else "",
        )
        for cue in cues
    ]


def _srt_problem(exc: srt.SRTParseError) -> str:
    found = (str(exc.unmatched_content).strip().splitlines() or [""])[0][:40]
    return f"not an SRT cue (number, 'HH:MM:SS,mmm --> HH:MM:SS,mmm', text): {found!r}"


def validate_edits(
    rows: Sequence[LineEdit], machine: Translation | Transcript, duration: float
) -> None:
    """Refuse a review file that does not list every line exactly once, or whose times are
    inverted, outside the video or overlapping: one ``InvalidInputError`` line."""
    known = [line.id for line in machine.lines]
    seen: set[int] = set()
    for row in rows:
        if row.id in seen:
            raise InvalidInputError(f"line id {row.id} appears twice")
        seen.add(row.id)
    unknown = sorted(seen - set(known))
    if unknown:
        span = f"{known[0]}-{known[-1]}" if known else "none"
        raise InvalidInputError(f"unknown line id {unknown[0]} (this localization has {span})")
    missing = [ident for ident in known if ident not in seen]
    if missing:
        listed = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise InvalidInputError(f"missing line ids: {listed} (list every line, changed or not)")
    for row in rows:
        _check_times(row, duration)
    ordered = sorted(rows, key=lambda row: row.id)
    for first, second in itertools.pairwise(ordered):
        if second.start < first.start:
            raise InvalidInputError(
                f"line {second.id} starts before line {first.id}: lines keep their order"
            )
        if first.end > second.start + TIME_TOLERANCE_S:
            raise InvalidInputError(
                f"lines {first.id} and {second.id} overlap: {first.id} ends at {first.end:.3f} s,"
                f" {second.id} starts at {second.start:.3f} s"
            )


def _check_times(row: LineEdit, duration: float) -> None:
    if row.end <= row.start:
        raise InvalidInputError(
            f"line {row.id}: ends at {row.end:.3f} s, not after its start {row.start:.3f} s"
        )
    if row.start < 0 or row.end > duration + TIME_TOLERANCE_S:
        raise InvalidInputError(
            f"line {row.id}: {row.start:.3f}-{row.end:.3f} s is outside the video "
            f"(0-{duration:.3f} s)"
        )


def slot_of(line: TranslatedLine) -> Span:
    """The slot the source speech took: the pace of the voice is set by it, not by a retiming."""
    return line.source_slot or line.slot


# --- the transcript gate ----------------------------------------------------------------------


def transcript_review_key(video_id: str) -> str:
    """Storage key of a video's transcript review (one per video: every language reads it)."""
    return f"videos/{video_id}/transcript-review.json"


def load_transcript_review(storage: StorageBackend, video_id: str) -> ReviewState:
    """The transcript review of one video (empty before any decision)."""
    return _read_state(storage, transcript_review_key(video_id))


def save_transcript_review(storage: StorageBackend, video_id: str, state: ReviewState) -> None:
    """Write a video's transcript review atomically."""
    _write_state(storage, transcript_review_key(video_id), state)


def transcript_digest(transcript: Transcript) -> str:
    """Identifies a machine transcript's lines (what a transcript approval applies to)."""
    lines = [line.model_dump(mode="json", exclude={"words"}) for line in transcript.lines]
    return hashlib.sha256(json.dumps(lines, sort_keys=True).encode()).hexdigest()[:16]


def transcript_gate(required: bool, state: ReviewState, machine: Transcript) -> GateStatus:
    """``approved`` when the transcript needs no review or this one was approved."""
    if not required or state.approved == transcript_digest(machine):
        return "approved"
    return "awaiting_review"


def approve_transcript(state: ReviewState, machine: Transcript, reviewer: str) -> ReviewState:
    """``state`` with ``machine`` approved by ``reviewer`` (unchanged if it already was)."""
    return _approved(state, transcript_digest(machine), reviewer)


def apply_transcript_edits(machine: Transcript, state: ReviewState) -> Transcript:
    """The transcript as reviewers left it; an edited line loses its word timings."""
    edits = {edit.id: edit for edit in state.edits}
    lines = [
        line.model_copy(
            update={
                "start": edits[line.id].start,
                "end": edits[line.id].end,
                "speaker": edits[line.id].speaker,
                "text": edits[line.id].text,
                "words": (),
            }
        )
        if line.id in edits
        else line
        for line in machine.lines
    ]
    return machine.model_copy(update={"lines": tuple(lines)})


def submit_transcript(
    state: ReviewState, machine: Transcript, rows: Sequence[LineEdit]
) -> tuple[ReviewState, list[int]]:
    """The transcript review after a validated file and the ids whose line it changed."""
    reviewed = apply_transcript_edits(machine, state)
    return _submitted(state, machine.lines, reviewed.lines, rows)


def export_transcript(transcript: Transcript, path: Path) -> Path:
    """Write a transcript's review file (CSV: id, start, end, speaker, text; or SRT)."""
    return _write_review_file(
        path, lambda: _transcript_csv(transcript), lambda: _srt_text(transcript)
    )
