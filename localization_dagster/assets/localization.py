"""Localization-level assets: translation, review gate, dub track, sync plan, delivery."""

import json
import warnings
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from localization_core.artifacts import (
    DubTrack,
    FaceTrack,
    LipSync,
    LocalizedVideo,
    ReviewDecision,
    SourceVideo,
    Stems,
    SyncPlan,
    VoiceRefs,
)
from localization_core.catalog import load_record
from localization_core.domain import Transcript, Translation
from localization_core.review import (
    apply_edits,
    apply_transcript_edits,
    approve,
    approve_transcript,
    edited_ids,
    gate_status,
    load_review,
    load_transcript_review,
    save_review,
    save_transcript_review,
    transcript_gate,
    translation_digest,
)
from localization_core.settings import get_settings
from localization_core.stages.dub_track import build_dub_track
from localization_core.stages.localized_video import assemble, build_report
from localization_core.stages.sync_plan import plan_sync
from localization_core.stages.translation import text_cache, translate
from localization_dagster.assets.common import (
    EAGER,
    REQUESTED_ONLY,
    language,
    localizations,
    stage,
    version_of,
    video_id,
    video_input,
)
from localization_dagster.checks import (
    DUB_CHECKS,
    OUTPUT_CHECKS,
    REVIEW_CHECK,
    SYNC_CHECKS,
    TRANSCRIPT_CHECK,
    dub_checks,
    output_check,
    review_check,
    sync_check,
    transcript_check,
)
from localization_dagster.report import report_metadata, stage_seconds
from localization_dagster.resources import (
    LipSyncResource,
    PipelineResource,
    StorageResource,
    SynthesizerResource,
    TranslatorResource,
    pool_for,
    queue_tags_for,
)


class TranslationConfig(dg.Config):
    """What a reviewer does when materializing a translation from the UI or an approval file."""

    approve_transcript: bool = Field(False, description="approve the video's transcript")
    reviewer: str = Field("", description="who approves (recorded with the approval)")


@dg.asset(
    partitions_def=localizations,
    group_name="localization",
    automation_condition=REQUESTED_ONLY,
    ins={"transcript": video_input(), "stems": video_input()},
    pool=pool_for("translation"),
    op_tags=queue_tags_for("translation"),
    code_version=version_of("translation"),
    output_required=False,
    check_specs=[TRANSCRIPT_CHECK],
)
def translation(
    context: dg.AssetExecutionContext,
    config: TranslationConfig,
    transcript: Transcript,
    stems: Stems,
    storage: StorageResource,
    translator: TranslatorResource,
    pipeline: PipelineResource,
) -> Iterator[dg.Output[Translation] | dg.AssetCheckResult]:
    """One translated line per dub line, each with its slot as the duration budget; from the
    transcript as reviewers left it, and only once it is approved when the video asks for a
    transcript review."""
    backend, video = storage.backend(), video_id(context)
    record = load_record(backend, video)
    required = pipeline.review_transcript if record.review_transcript is None else (
        record.review_transcript
    )  # fmt: skip
    state = load_transcript_review(backend, video)
    if config.approve_transcript:
        state = approve_transcript(state, transcript, config.reviewer)
        save_transcript_review(backend, video, state)
    status = transcript_gate(required, state, transcript)
    yield transcript_check(required, status, video)
    if status == "awaiting_review":
        context.log.info(f"{video} awaits transcript review: localize approve {video} --transcript")
        return
    with stage("translation"):
        result = translate(
            storage.workspace(),
            video_id=video,
            transcript=apply_transcript_edits(transcript, state),
            stems=stems,
            target=language(context),
            translator=translator.get(),
        )
    yield dg.Output(
        result,
        metadata={
            "provider": result.provider,
            "lines": len(result.lines),
            "model_requests": result.model_requests,
            "glossary": result.glossary,
            "transcript_review": state.edits_digest(),
            "flagged_lines": sum(bool(line.flags) for line in result.lines),
            "preview": dg.MetadataValue.md(
                "\n".join(f"{line.id}. {line.text}" for line in result.lines[:20]) or "(no speech)"
            ),
        },
    )


class ReviewConfig(dg.Config):
    """What a reviewer does when materializing the gate from the UI or an approval file."""

    approve: bool = Field(False, description="approve the current translation")
    reviewer: str = Field("", description="who approves (recorded with the approval)")


@dg.asset(
    partitions_def=localizations,
    group_name="localization",
    automation_condition=EAGER,
    code_version=version_of("translation_review"),
    output_required=False,
    check_specs=[REVIEW_CHECK],
)
def translation_review(
    context: dg.AssetExecutionContext,
    config: ReviewConfig,
    translation: Translation,
    storage: StorageResource,
    pipeline: PipelineResource,
) -> Iterator[dg.Output[ReviewDecision] | dg.AssetCheckResult]:
    """The review gate after translation, with reviewers' edits applied. Under ``required`` it
    materializes only once a reviewer approved this translation: until then nothing after it
    runs and its ``approved`` check says the localization awaits review."""
    backend = storage.backend()
    video, lang = video_id(context), language(context)
    policy = load_record(backend, video).review_policy or pipeline.review_policy
    state = load_review(backend, video, lang)
    if config.approve:
        state = save_review(backend, video, lang, approve(state, translation, config.reviewer))
    status = gate_status(policy, state, translation)
    yield review_check(policy, status, video, lang)
    if status == "awaiting_review":
        context.log.info(f"{video} -> {lang} awaits review: localize approve {video} --to {lang}")
        return
    reviewed = apply_edits(translation, state)
    edited = edited_ids(translation, state)
    note = "approved automatically (policy auto)" if policy == "auto" else (
        f"approved by {state.approved_by or 'a reviewer'}"
    )  # fmt: skip
    decision = ReviewDecision(
        policy="required" if policy == "required" else "auto",
        status=status,
        translation=reviewed,
        note=note,
        edited_lines=tuple(edited),
        review=state.digest(),
    )
    with warnings.catch_warnings():  # data versions of an output are beta in Dagster
        warnings.simplefilter("ignore")
        output = dg.Output(
            decision,
            # what the stages after the gate read: unchanged by an approval, new after an edit
            data_version=dg.DataVersion(translation_digest(reviewed)),
            metadata={
                "policy": decision.policy,
                "status": decision.status,
                "note": note,
                "review": decision.review,
                "edited_lines": len(edited),
                "approved_at": state.approved_at.isoformat() if state.approved_at else "-",
            },
        )
    yield output


@dg.asset(
    partitions_def=localizations,
    group_name="localization",
    automation_condition=EAGER,
    ins={
        "source_video": video_input(),
        "stems": video_input(),
        "voice_refs": video_input(),
    },
    pool=pool_for("synthesis"),
    op_tags=queue_tags_for("synthesis"),
    code_version=version_of("dub_track"),
    check_specs=DUB_CHECKS,
)
def dub_track(
    context: dg.AssetExecutionContext,
    source_video: SourceVideo,
    stems: Stems,
    voice_refs: VoiceRefs,
    translation_review: ReviewDecision,
    storage: StorageResource,
    pipeline: PipelineResource,
    synthesizer: SynthesizerResource,
    translator: TranslatorResource,
) -> Iterator[dg.Output[DubTrack] | dg.AssetCheckResult]:
    """Per-line speech fitted to its slot, the voice track and the loudness-normalized mix."""

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            context.log.info(f"synthesized {done}/{total} lines")

    with stage("dub_track"):
        workspace = storage.workspace()
        result = build_dub_track(
            workspace,
            source=source_video,
            stems=stems,
            voice_refs=voice_refs,
            translation=translation_review.translation,
            synthesizer=synthesizer.get(),
            loudness_lufs=pipeline.loudness_target_lufs,
            progress=progress,
            shorten=translator.get().shortener(language(context), text_cache(workspace)),
        )
    yield dg.Output(
        result,
        metadata={
            "lines": len(result.lines),
            "failed_lines": result.failed_lines,
            "loudness_lufs": result.loudness_lufs,
            "compressed": sum(fit.action == "compress" for fit in result.lines),
            "cut": sum(fit.cut for fit in result.lines),
            "voice": result.voice,
        },
    )
    yield from dub_checks(result)


@dg.asset(
    partitions_def=localizations,
    group_name="localization",
    automation_condition=EAGER,
    ins={"source_video": video_input(), "face_track": video_input()},
    code_version=version_of("sync_plan"),
    check_specs=SYNC_CHECKS,
)
def sync_plan(
    context: dg.AssetExecutionContext,
    source_video: SourceVideo,
    face_track: FaceTrack,
    dub_track: DubTrack,
    translation_review: ReviewDecision,
    storage: StorageResource,
    lipsyncer: LipSyncResource,
) -> Iterator[dg.Output[SyncPlan] | dg.AssetCheckResult]:
    """Windows of source time for the lip-sync engine, with their cache keys."""
    with stage("sync_plan"):
        engine = lipsyncer.planner()  # the engine itself may be installed on GPU nodes only
        tuning = lipsyncer.tuning(load_record(storage.backend(), video_id(context)).preset)
        result = plan_sync(
            storage.workspace(),
            source=source_video,
            faces=face_track,
            dub=dub_track,
            translation=translation_review.translation,
            engine=engine,
            tuning=tuning,
        )
    share = result.frames_in_windows / result.frames_total if result.frames_total else 0.0
    yield dg.Output(
        result,
        metadata={
            "windows": len(result.windows),
            "frames_total": result.frames_total,
            "frames_in_windows": result.frames_in_windows,
            "frames_speech_bound": result.frames_speech_bound or 0,
            "share_sent_to_engine": round(share, 3),
            "engine": result.engine,
            "preset": result.preset,
            "note": result.note or "-",
            "tuning": dg.MetadataValue.json(tuning.model_dump(exclude_none=True)),
        },
    )
    yield sync_check(result)


@dg.asset(
    partitions_def=localizations,
    group_name="localization",
    automation_condition=EAGER,
    ins={
        "source_video": video_input(),
        "stems": video_input(),
        "transcript": video_input(),
        "voice_refs": video_input(),
    },
    code_version=version_of("localized_video"),
    check_specs=OUTPUT_CHECKS,
)
def localized_video(
    context: dg.AssetExecutionContext,
    source_video: SourceVideo,
    stems: Stems,
    transcript: Transcript,
    voice_refs: VoiceRefs,
    translation_review: ReviewDecision,
    dub_track: DubTrack,
    sync_plan: SyncPlan,
    lipsync: LipSync,
    storage: StorageResource,
) -> Iterator[dg.Output[LocalizedVideo] | dg.AssetCheckResult]:
    """The delivered mp4 (dub first, original second), .srt/.vtt and report.json; the QA report,
    where to open the video, each stage's seconds and the GPU figures are on the asset page."""
    burn = load_record(storage.backend(), video_id(context)).burn_subtitles
    seconds = stage_seconds(context.instance, video_id(context), str(context.partition_key))
    with stage("localized_video"):
        report = build_report(
            source=source_video,
            stems=stems,
            transcript=transcript,
            translation=translation_review.translation,
            dub=dub_track,
            plan=sync_plan,
            lipsync=lipsync,
            review=translation_review,
            stage_seconds=seconds,
            gpu_price_per_hour=get_settings().gpu_price_per_hour,
            voice_refs=voice_refs,
        )
        result = assemble(
            storage.workspace(),
            source=source_video,
            translation=translation_review.translation,
            dub=dub_track,
            lipsync=lipsync,
            report=report,
            burn=burn,
        )
    yield dg.Output(
        result,
        metadata={
            **report_metadata(
                json.loads(storage.backend().read_bytes(result.report_key)),
                storage.backend().location(result.video_key),
            ),
            "video": result.video_key,
            "subtitles": result.srt_key,
            "burn_subtitles": burn,
            "report": result.report_key,
            "duration_s": result.duration,
            "speech": result.has_speech,
        },
    )
    yield output_check(source_video, result)
