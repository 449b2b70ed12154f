"""`source_video`: ingest an upload into a probed, stored source video."""

from __future__ import annotations

from pathlib import Path

from localization_core import media
from localization_core.artifacts import SourceVideo
from localization_core.catalog import VideoRecord
from localization_core.domain import Frozen, MediaProbe
from localization_core.errors import InvalidInputError, ObjectNotFoundError
from localization_core.workspace import Workspace


class Limits(Frozen):
    """What a source may be (settings ``MIN_DURATION_S``, ``MAX_DURATION_S``,
    ``MAX_UPLOAD_BYTES``)."""

    min_duration_s: float = 1.0
    max_duration_s: float = 4 * 3600.0
    max_bytes: int = 50 * 1024**3


def _check_limits(record: VideoRecord, facts: MediaProbe, limits: Limits) -> None:
    name, length = record.filename, facts.picture_duration
    if record.size > limits.max_bytes:
        raise InvalidInputError(
            f"{name}: {record.size / 1024**3:.1f} GiB is over the {limits.max_bytes / 1024**3:.1f}"
            " GiB limit (MAX_UPLOAD_BYTES)"
        )
    if length < limits.min_duration_s:
        raise InvalidInputError(
            f"{name}: too short ({length:.2f} s; at least {limits.min_duration_s:g} s, "
            "MIN_DURATION_S)"
        )
    if length > limits.max_duration_s:
        raise InvalidInputError(
            f"{name}: too long ({length / 60:.1f} min; at most {limits.max_duration_s / 60:g} "
            "min, MAX_DURATION_S)"
        )


def ingest(workspace: Workspace, record: VideoRecord, limits: Limits | None = None) -> SourceVideo:
    """Probe and copy an upload to ``videos/<id>/source<ext>``; bad media, and sources outside
    the ``limits``, fail permanently with one line."""
    try:
        local = workspace.local(record.upload_key)
    except ObjectNotFoundError as exc:
        raise InvalidInputError(f"{record.filename}: the upload is missing from storage") from exc
    facts = media.probe(local)
    if not facts.has_video:
        raise InvalidInputError(f"{record.filename}: audio only; a video with a picture is needed")
    if not facts.has_audio:
        raise InvalidInputError(f"{record.filename}: no audio stream, so nothing to dub")
    _check_limits(record, facts, limits or Limits())
    media.check_decodable(local)
    key = f"videos/{record.video_id}/source{Path(record.filename).suffix.lower()}"
    try:
        already = workspace.storage.info(key).content_md5 == record.content_md5
    except ObjectNotFoundError:
        already = False
    if not already:
        workspace.put(key, local)
    return SourceVideo(
        video_id=record.video_id,
        key=key,
        filename=record.filename,
        version=record.version,
        probe=facts,
        source_language=record.source_language,
    )
