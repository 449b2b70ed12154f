"""The review flow around the ``translation_review`` gate (and the transcript gate inside
``translation``): what they wait for, review files in and out, and approvals recorded in storage
(the UI approves through the gate's run config instead)."""

from __future__ import annotations

from pathlib import Path

from localization_core.artifacts import SourceVideo
from localization_core.catalog import load_record
from localization_core.domain import Transcript, Translation
from localization_core.errors import InvalidInputError, ObjectNotFoundError
from localization_core.review import (
    TRANSCRIPT_COLUMNS,
    GateStatus,
    apply_edits,
    apply_transcript_edits,
    approve,
    approve_transcript,
    export_review,
    export_transcript,
    gate_status,
    load_review,
    load_transcript_review,
    parse_review,
    save_review,
    save_transcript_review,
    submit,
    submit_transcript,
    transcript_gate,
    validate_edits,
)
from localization_core.storage.base import StorageBackend
from localization_dagster.io import read_artifact


def machine_translation(storage: StorageBackend, video: str, lang: str) -> Translation:
    """The translator's latest output for the pair, or one line saying there is none yet."""
    try:
        found = read_artifact(storage, "translation", f"{video}/{lang}")
    except ObjectNotFoundError:
        raise InvalidInputError(
            f"{video} -> {lang} has no translation yet (localize run {video} --to {lang})"
        ) from None
    assert isinstance(found, Translation)
    return found


def picture_duration(storage: StorageBackend, video: str) -> float:
    """How long the localized picture is: review times must lie within it."""
    source = read_artifact(storage, "source_video", video)
    assert isinstance(source, SourceVideo)
    return source.probe.picture_duration


def gate_of(storage: StorageBackend, video: str, lang: str, default_policy: str) -> GateStatus:
    """Where the pair's gate stands now (approved, or awaiting review)."""
    policy = load_record(storage, video).review_policy or default_policy
    machine = machine_translation(storage, video, lang)
    return gate_status(policy, load_review(storage, video, lang), machine)


def approve_pair(storage: StorageBackend, video: str, lang: str, reviewer: str) -> None:
    """Record the approval of the pair's current machine translation (the one a reviewer saw);
    the gate, stale from then on, opens at its next run."""
    machine = machine_translation(storage, video, lang)
    state = load_review(storage, video, lang)
    save_review(storage, video, lang, approve(state, machine, reviewer))


def approve_video_transcript(storage: StorageBackend, video: str, reviewer: str) -> None:
    """Record the approval of the video's current machine transcript."""
    machine = machine_transcript(storage, video)
    state = load_transcript_review(storage, video)
    save_transcript_review(storage, video, approve_transcript(state, machine, reviewer))


def export_pair(storage: StorageBackend, video: str, lang: str, path: Path) -> int:
    """Write the pair's review file (the translation as reviewers left it); its line count."""
    machine = machine_translation(storage, video, lang)
    reviewed = apply_edits(machine, load_review(storage, video, lang))
    export_review(reviewed, path)
    return len(reviewed.lines)


def submit_file(storage: StorageBackend, video: str, lang: str, raw: bytes, name: str) -> list[int]:
    """Validate a review file whole and store it as the pair's edits; the ids it changed.
    Nothing is stored when it is refused (one ``InvalidInputError`` line)."""
    machine = machine_translation(storage, video, lang)
    state = load_review(storage, video, lang)
    current = apply_edits(machine, state)
    rows = parse_review(raw, name, {line.id: line.speaker for line in current.lines})
    try:
        validate_edits(rows, machine, picture_duration(storage, video))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{name}: {exc}") from None
    new_state, changed = submit(state, machine, rows)
    if changed:
        save_review(storage, video, lang, new_state)
    return changed


# --- the transcript gate ----------------------------------------------------------------------


def machine_transcript(storage: StorageBackend, video: str) -> Transcript:
    """The transcriber's latest output for the video, or one line saying there is none yet."""
    try:
        found = read_artifact(storage, "transcript", video)
    except ObjectNotFoundError:
        raise InvalidInputError(f"{video} has no transcript yet (localize run {video})") from None
    assert isinstance(found, Transcript)
    return found


def transcript_gate_of(storage: StorageBackend, video: str, default_required: bool) -> GateStatus:
    """Where the video's transcript gate stands now."""
    record = load_record(storage, video)
    required = default_required if record.review_transcript is None else record.review_transcript
    machine = machine_transcript(storage, video)
    return transcript_gate(required, load_transcript_review(storage, video), machine)


def export_transcript_of(storage: StorageBackend, video: str, path: Path) -> int:
    """Write the video's transcript review file (as reviewers left it); its line count."""
    machine = machine_transcript(storage, video)
    reviewed = apply_transcript_edits(machine, load_transcript_review(storage, video))
    export_transcript(reviewed, path)
    return len(reviewed.lines)


def submit_transcript_file(storage: StorageBackend, video: str, raw: bytes, name: str) -> list[int]:
    """Validate a transcript review file whole and store it as the video's transcript edits;
    the ids it changed. Nothing is stored when it is refused."""
    machine = machine_transcript(storage, video)
    state = load_transcript_review(storage, video)
    current = apply_transcript_edits(machine, state)
    speakers = {line.id: line.speaker for line in current.lines}
    rows = parse_review(raw, name, speakers, TRANSCRIPT_COLUMNS)
    try:
        validate_edits(rows, machine, picture_duration(storage, video))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{name}: {exc}") from None
    new_state, changed = submit_transcript(state, machine, rows)
    if changed:
        save_transcript_review(storage, video, new_state)
    return changed
