"""Stage 0: ingest an upload into a probed, stored source video."""

from __future__ import annotations

from pathlib import Path

from localization_core import media
from localization_core.artifacts import SourceVideo
from localization_core.catalog import VideoRecord
from localization_core.errors import InvalidInputError, ObjectNotFoundError
from localization_core.workspace import Workspace


def ingest(workspace: Workspace, record: VideoRecord) -> SourceVideo:
    """Probe and copy an upload to ``videos/<id>/source<ext>``; bad media fail permanently."""
    try:
        local = workspace.local(record.upload_key)
    except ObjectNotFoundError as exc:
        raise InvalidInputError(f"{record.filename}: the upload is missing from storage") from exc
    facts = media.probe(local)
    if not facts.has_video:
        raise InvalidInputError(f"{record.filename}: audio only; a video with a picture is needed")
    if not facts.has_audio:
        raise InvalidInputError(f"{record.filename}: no audio stream, so nothing to dub")
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
