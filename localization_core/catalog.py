"""The video catalog: which uploads are registered as which video ids, and with what options.

A record lives at ``catalog/<video_id>.json`` in storage; the upload itself at
``uploads/<YYYY-MM-DD>/<video_id><suffix>`` (the UTC day it was uploaded: the upload sensor
lists only the recent days' folders), or at ``uploads/<file>`` (the flat layout of earlier
versions, still accepted). Registration is idempotent: the same content (same MD5) registers
once; new content under the same name is a new version of the same video, and an older copy
under another key (the same name in an earlier day's folder) does not replace a newer one.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from localization_core.domain import Frozen
from localization_core.errors import InvalidInputError, ObjectNotFoundError
from localization_core.storage.base import ObjectInfo, StorageBackend

VIDEO_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")
ReviewPolicy = Literal["auto", "required"]


class VideoRecord(Frozen):
    """One registered video: where its upload is and how to localize it."""

    video_id: str
    upload_key: str
    filename: str
    etag: str
    content_md5: str | None = None
    size: int = 0
    source_language: str | None = None
    review_policy: ReviewPolicy | None = Field(
        None, description="the review gate after translation; None: the REVIEW_POLICY setting's"
    )
    preset: str | None = Field(
        None,
        description="lip-sync preset (FAST, BALANCED, HIGH_QUALITY, ULTRA); None: the engine's",
    )
    burn_subtitles: bool = Field(False, description="draw the subtitles into the picture too")
    review_transcript: bool | None = Field(
        None, description="hold translation until the transcript is approved; None: setting's"
    )
    targets: tuple[str, ...] = Field(
        (), description="the languages requested for this video; only these are localized"
    )
    registered_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def version(self) -> str:
        """Identifies the content: MD5 when known, else the etag."""
        return self.content_md5 or self.etag


def slugify(name: str) -> str:
    """A video id from an upload name: ``"My Talk (final).mp4"`` -> ``"my-talk-final"``."""
    stem = Path(name).stem if "." in Path(name).name else name
    ascii_name = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_name.lower()).strip("-_")
    slug = re.sub(r"-{2,}", "-", slug)[:64].strip("-_")
    if not slug or not VIDEO_ID.fullmatch(slug):
        raise InvalidInputError(f"{name!r}: cannot make a video id from this name")
    return slug


def check_video_id(video_id: str) -> str:
    """``video_id`` if it is a valid partition key, else one clear error."""
    if not VIDEO_ID.fullmatch(video_id):
        raise InvalidInputError(
            f"{video_id!r} is not a valid video id (lowercase letters, digits, '-' and '_')"
        )
    return video_id


def check_language(code: str) -> str:
    """A normalized language code (``ES`` -> ``es``), or one clear error."""
    normalized = code.strip().lower()
    if not LANGUAGE.fullmatch(normalized):
        raise InvalidInputError(f"{code!r} is not a language code (e.g. en, es, pt-br)")
    return normalized


def record_key(video_id: str) -> str:
    """Storage key of a video's catalog record."""
    return f"catalog/{video_id}.json"


def upload_key(video_id: str, filename: str, day: date | None = None) -> str:
    """Storage key of a video's upload: in the folder of ``day`` (today, UTC, by default), so
    the upload sensor finds it in the recent days it lists on every tick."""
    folder = (day or datetime.now(UTC).date()).isoformat()
    return f"uploads/{folder}/{video_id}{Path(filename).suffix.lower()}"


def _superseded(storage: StorageBackend, existing: VideoRecord, info: ObjectInfo) -> bool:
    """True for a copy under another key written before the registered upload (the same name
    in an earlier day's folder): it must not replace the newer registration."""
    if existing.upload_key == info.key or info.last_modified is None:
        return False
    try:
        registered = storage.info(existing.upload_key)
    except ObjectNotFoundError:
        return False
    return registered.last_modified is not None and info.last_modified < registered.last_modified


def load_record(storage: StorageBackend, video_id: str) -> VideoRecord:
    """The catalog record of ``video_id`` (``InvalidInputError`` when not registered)."""
    try:
        return VideoRecord.model_validate_json(storage.read_bytes(record_key(video_id)))
    except ObjectNotFoundError as exc:
        raise InvalidInputError(f"video {video_id!r} is not registered") from exc


def save_record(storage: StorageBackend, record: VideoRecord) -> VideoRecord:
    """Write the record atomically."""
    storage.write_bytes(record_key(record.video_id), record.model_dump_json(indent=2).encode())
    return record


def update_record(storage: StorageBackend, video_id: str, **choices: object) -> VideoRecord:
    """Set fields of a registered video's record, writing only when one changes."""
    record = load_record(storage, video_id)
    if all(getattr(record, name) == value for name, value in choices.items()):
        return record
    return save_record(storage, record.model_copy(update=choices))


def set_source_language(storage: StorageBackend, video_id: str, language: str) -> VideoRecord:
    """Set or correct the source language of a registered video (detection is skipped)."""
    return update_record(storage, video_id, source_language=language)


def set_preset(storage: StorageBackend, video_id: str, preset: str) -> VideoRecord:
    """Choose the lip-sync preset of a registered video (its next sync plan uses it)."""
    return update_record(storage, video_id, preset=preset)


def request_targets(storage: StorageBackend, video_id: str, targets: list[str]) -> VideoRecord:
    """Add ``targets`` to the languages requested for a registered video (kept in order)."""
    record = load_record(storage, video_id)
    merged = tuple(dict.fromkeys([*record.targets, *targets]))
    if merged == record.targets:
        return record
    return save_record(storage, record.model_copy(update={"targets": merged}))


def record_for_upload(
    storage: StorageBackend,
    info: ObjectInfo,
    *,
    video_id: str | None = None,
    source_language: str | None = None,
    review_policy: ReviewPolicy | None = None,
) -> tuple[VideoRecord, bool]:
    """The record for an upload and whether it is new (or new content) for the catalog; the
    video id is the file name's (``uploads/2025-06-01/My Talk.mp4`` -> ``my-talk``)."""
    video_id = check_video_id(video_id or slugify(Path(info.key).name))
    try:
        existing: VideoRecord | None = load_record(storage, video_id)
    except InvalidInputError:
        existing = None
    if existing is not None and _superseded(storage, existing, info):
        return existing, False
    if existing is not None and existing.version == (info.content_md5 or info.etag):
        if source_language and source_language != existing.source_language:
            existing = save_record(
                storage, existing.model_copy(update={"source_language": source_language})
            )
        return existing, False
    content = {
        "upload_key": info.key,
        "filename": Path(info.key).name,
        "etag": info.etag,
        "content_md5": info.content_md5,
        "size": info.size,
        "registered_at": datetime.now(UTC),
    }
    if existing is None:
        record = VideoRecord(
            video_id=video_id,
            source_language=source_language,
            review_policy=review_policy,
            **content,
        )
    else:  # new content: the video keeps its choices (targets, preset, reviews, burn-in)
        choices = {
            "source_language": source_language or existing.source_language,
            "review_policy": review_policy or existing.review_policy,
        }
        record = existing.model_copy(update={**content, **choices})
    return save_record(storage, record), True


def list_records(storage: StorageBackend) -> list[VideoRecord]:
    """Every registered video, in id order."""
    return [
        VideoRecord.model_validate_json(storage.read_bytes(item.key))
        for item in storage.list("catalog/")
        if item.key.endswith(".json")
    ]
