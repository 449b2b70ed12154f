"""Review files: export, parse, validate, and what an accepted edit changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from localization_core.domain import TranslatedLine, Translation
from localization_core.errors import InvalidInputError
from localization_core.review import (
    ReviewState,
    apply_edits,
    approve,
    export_review,
    gate_status,
    parse_review,
    read_review_file,
    submit,
    validate_edits,
)

MACHINE = Translation(
    source_language="fr",
    target_language="en",
    lines=(
        TranslatedLine(id=1, start=0.5, end=2.0, source_text="Bonjour.", text="Hello."),
        TranslatedLine(id=2, start=2.5, end=4.0, source_text="Ça va ?", text="How are you?"),
        TranslatedLine(id=3, start=5.0, end=7.5, source_text="Très bien.", text="Very well."),
    ),
)
SPEAKERS = {1: "S1", 2: "S1", 3: "S1"}


@pytest.mark.parametrize("suffix", [".csv", ".srt"])
def test_an_exported_file_reads_back_as_the_same_lines(tmp_path: Path, suffix: str) -> None:
    path = export_review(MACHINE, tmp_path / f"review{suffix}")
    rows = read_review_file(path, SPEAKERS)
    validate_edits(rows, MACHINE, duration=8.0)
    state, changed = submit(ReviewState(), MACHINE, rows)
    assert changed == [] and state.edits == ()


def test_an_edit_changes_text_timing_and_speaker_and_survives_a_new_translation(
    tmp_path: Path,
) -> None:
    path = export_review(MACHINE, tmp_path / "review.csv")
    text = path.read_text(encoding="utf-8")
    text = text.replace("How are you?", "And how are you today?").replace("5.000", "5.200")
    text = text.replace("7.500,S1", "7.500,S2")
    path.write_text(text, encoding="utf-8")
    rows = read_review_file(path, SPEAKERS)
    validate_edits(rows, MACHINE, duration=8.0)
    state, changed = submit(ReviewState(), MACHINE, rows)
    assert changed == [2, 3]
    reviewed = apply_edits(MACHINE, state)
    assert reviewed.lines[1].text == "And how are you today?"
    assert (reviewed.lines[2].start, reviewed.lines[2].speaker) == (5.2, "S2")
    assert reviewed.lines[2].source_slot is not None
    assert reviewed.lines[2].source_slot.start == 5.0, "the voice keeps the source's pace"
    retranslated = MACHINE.model_copy(
        update={"lines": tuple(line.model_copy(update={"text": line.text.upper()})
                               for line in MACHINE.lines)}
    )  # fmt: skip
    again = apply_edits(retranslated, state)
    assert again.lines[0].text == "HELLO.", "unedited lines follow the translator"
    assert again.lines[1].text == "And how are you today?", "the reviewer's edit is kept"


def test_the_gate_waits_for_an_approval_of_this_translation() -> None:
    state = ReviewState()
    assert gate_status("auto", state, MACHINE) == "approved"
    assert gate_status("required", state, MACHINE) == "awaiting_review"
    state = approve(state, MACHINE, "ana")
    assert gate_status("required", state, MACHINE) == "approved"
    changed = MACHINE.model_copy(update={"target_language": "en", "provider": "other",
                                         "lines": MACHINE.lines[:2]})  # fmt: skip
    assert gate_status("required", state, changed) == "awaiting_review", "a new translation"


CSV_HEADER = "id,start,end,speaker,source_text,translation\n"
GOOD_ROWS = ["1,0.5,2.0,S1,x,Hello.", "2,2.5,4.0,S1,x,How are you?", "3,5.0,7.5,S1,x,Very well."]


def _csv(*rows: str) -> bytes:
    return (CSV_HEADER + "\n".join(rows) + "\n").encode()


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("parse.csv", _csv(GOOD_ROWS[0], "2,2.5,four,S1,x,How", GOOD_ROWS[2]),
         "parse.csv: line 3: end 'four' is not a time"),
        ("fields.csv", _csv(GOOD_ROWS[0], "2,2.5,4.0,S1", GOOD_ROWS[2]),
         "fields.csv: line 3: 4 fields, expected 6"),
        ("parse.srt", b"1\n00:00:00,500 --> 00:00:02,000\nHello.\n\n2\n00:00:03,000 -> 00:00:04"
         b",000\nBye\n",
         "parse.srt: line 5: not an SRT cue"),
        ("latin1.csv", _csv(GOOD_ROWS[0], "2,2.5,4.0,S1,x,Très bien", GOOD_ROWS[2])
         .decode().encode("latin-1"), "latin1.csv: not UTF-8 (byte 0xe8 on line 3)"),
        ("review.txt", b"", "review.txt: a review file is .csv or .srt"),
        ("nan.csv", _csv(GOOD_ROWS[0], "2,nan,4.0,S1,x,How", GOOD_ROWS[2]),
         "nan.csv: line 3: start 'nan' is not a time"),
        ("digit.csv", _csv(GOOD_ROWS[0], "²,2.5,4.0,S1,x,How", GOOD_ROWS[2]),
         "digit.csv: line 3: id '²' is not a line id"),
        ("zero.srt", b"0\n00:00:00,500 --> 00:00:02,000\nHello.\n",
         "zero.srt: line 1: cue number 0 is not a line id"),
    ],
)  # fmt: skip
def test_a_file_that_does_not_parse_is_refused_with_its_line(
    name: str, raw: bytes, message: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_review(raw, name, SPEAKERS)
    assert str(caught.value).startswith(message), caught.value
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([GOOD_ROWS[0], "2,2.5,5.5,S1,x,How", GOOD_ROWS[2]],
         "lines 2 and 3 overlap: 2 ends at 5.500 s, 3 starts at 5.000 s"),
        ([GOOD_ROWS[0], "2,4.0,2.5,S1,x,How", GOOD_ROWS[2]],
         "line 2: ends at 2.500 s, not after its start 4.000 s"),
        ([GOOD_ROWS[0], GOOD_ROWS[1], "3,5.0,9.5,S1,x,Well"],
         "line 3: 5.000-9.500 s is outside the video (0-8.000 s)"),
        ([*GOOD_ROWS, "9,7.6,7.9,S1,x,Extra"], "unknown line id 9 (this localization has 1-3)"),
        ([GOOD_ROWS[0], GOOD_ROWS[2]], "missing line ids: 2 (list every line"),
        ([GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[1], GOOD_ROWS[2]], "line id 2 appears twice"),
        (["1,3.0,3.5,S1,x,Hello.", "2,0.5,2.0,S1,x,How", GOOD_ROWS[2]],
         "line 2 starts before line 1: lines keep their order"),
    ],
)  # fmt: skip
def test_a_file_with_wrong_lines_or_times_is_refused_whole(rows: list[str], message: str) -> None:
    parsed = parse_review(_csv(*rows), "edit.csv", SPEAKERS)
    with pytest.raises(InvalidInputError) as caught:
        validate_edits(parsed, MACHINE, duration=8.0)
    assert str(caught.value).startswith(message), caught.value


def test_a_transcript_review_edits_the_lines_and_gates_until_approved(tmp_path: Path) -> None:
    from localization_core.domain import DubLine, Transcript, Word
    from localization_core.review import (
        TRANSCRIPT_COLUMNS,
        apply_transcript_edits,
        approve_transcript,
        export_transcript,
        submit_transcript,
        transcript_gate,
    )

    machine = Transcript(
        language="fr",
        language_probability=0.9,
        lines=(
            DubLine(id=1, start=0.5, end=2.0, text="Bonjour.",
                    words=(Word(start=0.5, end=2.0, text="Bonjour."),)),
            DubLine(id=2, start=2.5, end=4.0, text="Ça va ?"),
        ),
    )  # fmt: skip
    path = export_transcript(machine, tmp_path / "transcript.csv")
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(TRANSCRIPT_COLUMNS)
    path.write_text(path.read_text(encoding="utf-8").replace("Bonjour.", "Bonsoir."), "utf-8")
    rows = parse_review(path.read_bytes(), path.name, {1: "S1", 2: "S1"}, TRANSCRIPT_COLUMNS)
    validate_edits(rows, machine, duration=5.0)
    state, changed = submit_transcript(ReviewState(), machine, rows)
    assert changed == [1]
    reviewed = apply_transcript_edits(machine, state)
    assert reviewed.lines[0].text == "Bonsoir." and reviewed.lines[0].words == ()
    assert transcript_gate(False, ReviewState(), machine) == "approved"
    assert transcript_gate(True, state, machine) == "awaiting_review", "an edit is no approval"
    assert transcript_gate(True, approve_transcript(state, machine, "ana"), machine) == "approved"
