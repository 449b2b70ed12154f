"""Registering a video: upload, catalog record, partitions, refusals with one clear line."""

from pathlib import Path

import dagster as dg

from localization_core import media
from localization_core.catalog import (
    VideoRecord,
    check_language,
    check_video_id,
    load_record,
    record_for_upload,
    request_targets,
    set_source_language,
    slugify,
    upload_key,
)
from localization_core.errors import InvalidInputError, LocalizationError
from localization_core.stages.transcript import MIN_LANGUAGE_PROBABILITY
from localization_core.stages.translation import check_target
from localization_dagster.partitions import languages, videos
from localization_dagster.resources import Toolkit


def detect_source_language(rt: Toolkit, path: Path) -> str | None:
    """Whisper's language for the file's first 30 s, when confident; None otherwise."""
    scratch = rt.workspace.scratch_dir("register")
    try:
        speech = media.extract_speech_audio(path, scratch / f"{path.stem}.wav", end=30.0)
    except LocalizationError:
        return None  # unreadable media fail at source_video, with the stage recorded
    language, probability = rt.transcriber.detect_language(speech)
    return language if probability >= MIN_LANGUAGE_PROBABILITY else None


def check_source(rt: Toolkit, code: str) -> str:
    """A normalized source language the transcriber recognises, or one clear error."""
    language = check_language(code)
    known = rt.transcriber.supported_languages()
    if language not in known:
        raise InvalidInputError(
            f"{code!r} is not a language the transcriber knows "
            f"({rt.settings.stt_model} knows {len(known)}: {', '.join(sorted(known)[:8])} ...)"
        )
    return language


def correct_source_language(rt: Toolkit, video_id: str, code: str) -> VideoRecord:
    """Set or correct a registered video's source language; its transcript turns stale."""
    return set_source_language(rt.storage, check_video_id(video_id), check_source(rt, code))


def register(
    rt: Toolkit,
    instance: dg.DagsterInstance,
    path: Path,
    *,
    targets: list[str],
    source_language: str | None = None,
    video_id: str | None = None,
    detect: bool = True,
) -> VideoRecord:
    """Upload ``path``, record it in the catalog and add its video and language partitions.

    Refused (``InvalidInputError``): a missing file, a bad id or language code, a target the
    translator cannot produce, or a target equal to the (given or detected) source language.
    """
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    vid = check_video_id(video_id) if video_id else slugify(path.name)
    wanted = [check_language(code) for code in targets]
    if not wanted:
        raise InvalidInputError("give at least one target language with --to")
    source = check_source(rt, source_language) if source_language else None
    for target in wanted:
        check_target(rt.translator, target, source)
    if source is None and detect:
        detected = detect_source_language(rt, path)
        for target in wanted:
            if detected == target:
                raise InvalidInputError(
                    f"{path.name} is already in {target!r} (detected); choose another --to"
                )
    info = rt.storage.upload_file(upload_key(vid, path.name), path)
    record_for_upload(rt.storage, info, video_id=vid, source_language=source)
    instance.add_dynamic_partitions(videos.name or "videos", [vid])
    instance.add_dynamic_partitions(languages.name or "languages", wanted)
    return request_targets(rt.storage, vid, wanted)


def request_languages(
    rt: Toolkit, instance: dg.DagsterInstance, video_id: str, targets: list[str]
) -> VideoRecord:
    """Request more target languages for a registered video (and only for it): refused, with
    one line, when the translator cannot produce one or it is the video's source language."""
    record = load_record(rt.storage, check_video_id(video_id))
    wanted = [check_language(code) for code in targets]
    if not wanted:
        raise InvalidInputError("give at least one target language with --to")
    for target in wanted:
        check_target(rt.translator, target, record.source_language)
    instance.add_dynamic_partitions(languages.name or "languages", wanted)
    return request_targets(rt.storage, record.video_id, wanted)
