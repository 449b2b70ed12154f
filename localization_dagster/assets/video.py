"""Video-level assets: source_video, stems, transcript, voice_refs, face_track."""

import hashlib
import warnings
from collections.abc import Iterator

import dagster as dg

from localization_core.artifacts import FaceTrack, SourceVideo, Stems, VoiceRefs
from localization_core.cache import cache_key
from localization_core.catalog import VideoRecord, load_record
from localization_core.domain import Transcript
from localization_core.speakers import talk_time
from localization_core.stages.face_track import face_metadata, track_faces
from localization_core.stages.source_video import ingest
from localization_core.stages.stems import separate
from localization_core.stages.transcript import transcribe
from localization_core.stages.voice_refs import pick_voice_refs
from localization_dagster.assets.common import (
    EAGER,
    stage,
    version_of,
    video_id,
    videos,
)
from localization_dagster.checks import STEMS_CHECKS, stems_check
from localization_dagster.report import table_of
from localization_dagster.resources import (
    DiarizerResource,
    PipelineResource,
    SeparatorResource,
    StorageResource,
    TranscriberResource,
    pool_for,
    queue_tags_for,
)
from localization_dagster.versions import source_data_version


def face_cache_key(version: str) -> str:
    """The face-track cache entry of a source content version (and this stage's code)."""
    digest = cache_key("face_track", source=version, code=version_of("face_track"))
    return f"cache/face_track/{digest}.json"


@dg.asset(
    partitions_def=videos,
    group_name="video",
    kinds={"ffmpeg"},
    code_version=version_of("source_video"),
)
def source_video(
    context: dg.AssetExecutionContext, storage: StorageResource, pipeline: PipelineResource
) -> dg.Output[SourceVideo]:
    """The registered upload, probed and copied into the video's folder; bad media stop here."""
    with stage("source_video"):
        record = load_record(storage.backend(), video_id(context))
        source = ingest(storage.workspace(), record, pipeline.limits())
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
    op_tags=queue_tags_for("separation"),
    code_version=version_of("stems"),
    check_specs=STEMS_CHECKS,
)
def stems(
    source_video: SourceVideo, storage: StorageResource, separator: SeparatorResource
) -> Iterator[dg.Output[Stems] | dg.AssetCheckResult]:
    """Vocals and background; a dual-mono source is flagged as degraded."""
    with stage("stems"):
        result = separate(storage.workspace(), source_video, separator.get())
    yield dg.Output(
        result,
        metadata={
            "degraded": result.separation.degraded,
            "method": result.separation.method,
            "note": result.separation.note,
        },
    )
    yield stems_check(result)


@dg.asset(
    partitions_def=videos,
    group_name="video",
    automation_condition=EAGER,
    pool=pool_for("transcription"),
    op_tags=queue_tags_for("transcription"),
    code_version=version_of("transcript"),
)
def transcript(
    source_video: SourceVideo,
    stems: Stems,
    storage: StorageResource,
    transcriber: TranscriberResource,
    diarizer: DiarizerResource,
) -> dg.Output[Transcript]:
    """Dub lines with speakers, and the source language with its probability."""
    with stage("transcript"):
        result = transcribe(
            storage.workspace(),
            source_video,
            stems,
            transcriber.get(),
            diarizer=diarizer.get(),
            speakers=diarizer.fixed_count(),
        )
    talk = talk_time(result.lines)
    return dg.Output(
        result,
        metadata={
            "language": result.language,
            "language_probability": result.language_probability,
            "dub_lines": len(result.lines),
            "speech_s": round(sum(line.end - line.start for line in result.lines), 2),
            "diarizer": result.diarizer,
            "speakers": len(talk),
            "talk_time": _talk_table(result, talk),
        },
    )


def _talk_table(result: Transcript, talk: dict[str, float]) -> dg.TableMetadataValue:
    """Each speaker's talk time and line count."""
    rows = [
        {
            "speaker": speaker,
            "talk_s": seconds,
            "lines": sum(line.speaker == speaker for line in result.lines),
        }
        for speaker, seconds in talk.items()
    ]
    return table_of(rows, {"speaker": "string", "talk_s": "float", "lines": "int"})


@dg.asset(
    partitions_def=videos,
    group_name="video",
    automation_condition=EAGER,
    kinds={"opencv"},
    code_version=version_of("face_track"),
)
def face_track(source_video: SourceVideo, storage: StorageResource) -> dg.Output[FaceTrack]:
    """Where an engine-usable frontal face is visible, to the frame; its cost per minute.

    Cached by what it reads (the picture's content version and this stage's code version), so
    a source-language correction, which makes it stale, costs a lookup, not a scan."""
    backend = storage.backend()
    key = face_cache_key(source_video.version)
    with stage("face_track"):
        if backend.exists(key):
            result = FaceTrack.model_validate_json(backend.read_bytes(key))
            reused = True
        else:
            result = track_faces(storage.workspace().local(source_video.key), source_video)
            backend.write_bytes(key, result.model_dump_json().encode())
            reused = False
    return dg.Output(result, metadata={**face_metadata(result), "reused_from_cache": reused})


@dg.asset(
    partitions_def=videos,
    group_name="video",
    automation_condition=EAGER,
    code_version=version_of("voice_refs"),
)
def voice_refs(
    context: dg.AssetExecutionContext,
    stems: Stems,
    transcript: Transcript,
    storage: StorageResource,
) -> dg.Output[VoiceRefs]:
    """Each speaker's 6-10 s reference clip and its words, for voice matching and cloning."""
    with stage("voice_refs"):
        result = pick_voice_refs(storage.workspace(), video_id(context), stems, transcript)
    # the clips are inputs Dagster does not see (a user's clip replaces a chosen one): their
    # digests, with the speakers' pitch and rank (which set the dub's voices), are the data
    # version, so a new clip makes every dub after it stale
    digests = ",".join(f"{ref.speaker}:{ref.digest}" for ref in result.refs)
    profiles = ",".join(one.model_dump_json() for one in result.speakers)
    version = dg.DataVersion(hashlib.sha256(f"{digests}|{profiles}".encode()).hexdigest()[:24])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _refs_output(result, version)


def _speaker_table(result: VoiceRefs) -> dg.TableMetadataValue:
    """One row per speaker: talk time, pitch, rank and the reference chosen (or why none)."""
    speakers = [one.speaker for one in result.speakers] or [ref.speaker for ref in result.refs]
    rows = []
    for speaker in speakers:
        ref, profile = result.of(speaker), result.profile(speaker)
        rows.append(
            {
                "speaker": speaker,
                "talk_s": profile.talk_s if profile else 0.0,
                "pitch_hz": (profile.median_pitch_hz or 0.0) if profile else 0.0,
                "source": ref.source if ref else "none",
                "span": f"{ref.start:.2f}-{ref.end:.2f} s" if ref else "-",
                "speech": f"{ref.vad_coverage:.0%}" if ref else "-",
                "text": ref.text if ref else result.missing.get(speaker, ""),
            }
        )
    kinds = {"talk_s": "float", "pitch_hz": "float"}
    names = ("speaker", "talk_s", "pitch_hz", "source", "span", "speech", "text")
    return table_of(rows, {name: kinds.get(name, "string") for name in names})


def _refs_output(result: VoiceRefs, version: dg.DataVersion) -> dg.Output[VoiceRefs]:
    return dg.Output(
        result,
        data_version=version,
        metadata={
            "speakers": len(result.speakers) or len(result.refs),
            "references": len(result.refs),
            "speaker_voices": _speaker_table(result),
            "missing": ", ".join(f"{k}: {v}" for k, v in result.missing.items()) or "none",
        },
    )
