"""Video-level assets: source_video, stems, transcript, face_track."""

import warnings

import dagster as dg

from localization_core.artifacts import FaceTrack, SourceVideo, Stems
from localization_core.cache import cache_key
from localization_core.catalog import VideoRecord, load_record
from localization_core.domain import Transcript
from localization_core.stages.faces import face_metadata, track_faces
from localization_core.stages.ingest import Limits, ingest
from localization_core.stages.separate import separate
from localization_core.stages.transcribe import transcribe
from localization_dagster.assets.common import (
    EAGER,
    stage,
    version_of,
    video_id,
    videos,
)
from localization_dagster.resources import LocalizationResource, pool_for
from localization_dagster.versions import source_data_version


@dg.asset(
    partitions_def=videos,
    group_name="video",
    kinds={"ffmpeg"},
    code_version=version_of("source_video"),
)
def source_video(
    context: dg.AssetExecutionContext, localization: LocalizationResource
) -> dg.Output[SourceVideo]:
    """The registered upload, probed and copied into the video's folder; bad media stop here."""
    rt = localization.get()
    with stage("source_video"):
        record = load_record(rt.storage, video_id(context))
        settings = rt.settings
        limits = Limits(
            min_duration_s=settings.min_duration_s,
            max_duration_s=settings.max_duration_s,
            max_bytes=settings.max_upload_bytes,
        )
        source = ingest(rt.workspace, record, limits)
    with warnings.catch_warnings():  # Output(data_version=) is beta; it is how a root asset
        warnings.simplefilter("ignore", dg.BetaWarning)  # tells Dagster what changed
        return _source_output(source, record)


def _source_output(source: SourceVideo, record: VideoRecord) -> dg.Output[SourceVideo]:
    """The ingested source with its data version: content version and source language."""
    facts = source.probe
    return dg.Output(
        source,
        data_version=dg.DataVersion(source_data_version(record)),
        metadata={
            "version": record.version,
            "source_language": record.source_language or "detect",
            "duration_s": facts.duration,
            "fps": float(facts.fps or 0),
            "vfr": facts.vfr,
            "size": f"{facts.width}x{facts.height}",
            "rotation": facts.rotation,
            "audio_streams": len(facts.audio_streams),
        },
    )


@dg.asset(
    partitions_def=videos,
    group_name="video",
    automation_condition=EAGER,
    pool=pool_for("separation"),
    code_version=version_of("stems"),
)
def stems(source_video: SourceVideo, localization: LocalizationResource) -> dg.Output[Stems]:
    """Vocals and background; a dual-mono source is flagged as degraded."""
    rt = localization.get()
    with stage("stems"):
        result = separate(rt.workspace, source_video, rt.separator)
    return dg.Output(
        result,
        metadata={
            "degraded": result.separation.degraded,
            "method": result.separation.method,
            "note": result.separation.note,
        },
    )


@dg.asset(
    partitions_def=videos,
    group_name="video",
    automation_condition=EAGER,
    pool=pool_for("transcription"),
    code_version=version_of("transcript"),
)
def transcript(
    source_video: SourceVideo, stems: Stems, localization: LocalizationResource
) -> dg.Output[Transcript]:
    """Dub lines with speakers, and the source language with its probability."""
    rt = localization.get()
    with stage("transcript"):
        result = transcribe(rt.workspace, source_video, stems, rt.transcriber)
    return dg.Output(
        result,
        metadata={
            "language": result.language,
            "language_probability": result.language_probability,
            "dub_lines": len(result.lines),
            "speech_s": round(sum(line.end - line.start for line in result.lines), 2),
        },
    )


@dg.asset(
    partitions_def=videos,
    group_name="video",
    automation_condition=EAGER,
    kinds={"opencv"},
    code_version=version_of("face_track"),
)
def face_track(
    source_video: SourceVideo, localization: LocalizationResource
) -> dg.Output[FaceTrack]:
    """Where an engine-usable frontal face is visible, to the frame; its cost per minute.

    Cached by what it reads (the picture's content version and this stage's code version), so
    a source-language correction, which makes it stale, costs a lookup, not a scan."""
    rt = localization.get()
    digest = cache_key("face_track", source=source_video.version, code=version_of("face_track"))
    key = f"cache/face_track/{digest}.json"
    with stage("face_track"):
        if rt.storage.exists(key):
            result = FaceTrack.model_validate_json(rt.storage.read_bytes(key))
            reused = True
        else:
            result = track_faces(rt.workspace.local(source_video.key), source_video)
            rt.storage.write_bytes(key, result.model_dump_json().encode())
            reused = False
    return dg.Output(result, metadata={**face_metadata(result), "reused_from_cache": reused})
