"""`localized_video`: mux the delivered mp4 (dub first, original second), subtitles, report."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from localization_core import media
from localization_core.artifacts import (
    DubTrack,
    LipSync,
    LocalizedVideo,
    ReviewDecision,
    SourceVideo,
    Stems,
    SyncPlan,
    VoiceRefs,
)
from localization_core.domain import MediaProbe, Transcript, TranslatedLine, Translation
from localization_core.providers.lipsync.registry import LIPSYNCERS
from localization_core.providers.registry import pool_of
from localization_core.speakers import talk_time
from localization_core.subtitles import (
    Cue,
    cues_from_lines,
    fast_cues,
    write_burn_in,
    write_subtitles,
)
from localization_core.workspace import Workspace

ISO_639_2 = {
    "ar": "ara",
    "de": "deu",
    "en": "eng",
    "es": "spa",
    "fr": "fra",
    "hi": "hin",
    "it": "ita",
    "ja": "jpn",
    "ko": "kor",
    "nl": "nld",
    "pl": "pol",
    "pt": "por",
    "ru": "rus",
    "sv": "swe",
    "tr": "tur",
    "uk": "ukr",
    "zh": "zho",
}


def language_tag(code: str | None) -> str:
    """The three-letter tag mp4 stores for a language (``und`` when unknown)."""
    return ISO_639_2.get((code or "").split("-")[0], "und")


def output_prefix(video_id: str, language: str) -> str:
    """Where the delivered files of one localization are stored."""
    return f"outputs/{video_id}/{language}"


def build_report(
    *,
    source: SourceVideo,
    stems: Stems,
    transcript: Transcript,
    translation: Translation,
    dub: DubTrack,
    plan: SyncPlan,
    lipsync: LipSync,
    review: ReviewDecision | None = None,
    stage_seconds: Mapping[str, float] | None = None,
    gpu_price_per_hour: float = 0.0,
    voice_refs: VoiceRefs | None = None,
) -> dict[str, Any]:
    """Everything a reviewer needs to judge one localization, as plain JSON. ``stage_seconds``
    are the seconds each earlier stage took (the orchestrator's step stats; empty when it has
    none); ``gpu_price_per_hour`` (USD) prices the GPU-seconds."""
    fits = dub.lines
    return {
        "review": {
            "policy": review.policy if review else "auto",
            "note": review.note if review else "",
            "edited_lines": list(review.edited_lines) if review else [],
        },
        "video": source.video_id,
        "source": {
            "file": source.filename,
            "duration": source.probe.duration,
            "fps": float(source.probe.fps or 0),
            "vfr": source.probe.vfr,
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "audio_channels": source.probe.audio_streams[0].channels
            if source.probe.audio_streams
            else 0,
            "audio_vs_picture": audio_vs_picture(source.probe),
        },
        "target_language": translation.target_language,
        "speech": dub.has_speech,
        "note": "" if dub.has_speech else "no speech found: the output is the source video",
        "separation": {
            "method": stems.separation.method,
            "degraded": stems.separation.degraded,
            "note": stems.separation.note,
        },
        "voice": {"synthesizer": dub.synthesizer, "description": dub.voice},
        "speakers": speaker_figures(transcript, dub, voice_refs),
        "diarizer": transcript.diarizer or "single",
        "translation": {
            "provider": translation.provider,
            "lines": len(translation.lines),
            "glossary": translation.glossary,
            "flagged_lines": [
                {"id": line.id, "flags": list(line.flags)}
                for line in translation.lines
                if line.flags
            ],
        },
        "isochrony": {
            "lines": [fit.model_dump(exclude={"key"}) for fit in fits],
            "totals": {
                "lines": len(fits),
                "failed": dub.failed_lines,
                "cut": sum(f.cut for f in fits),
                "compressed": sum(f.action == "compress" for f in fits),
                "stretched": sum(f.action == "stretch" for f in fits),
                "silence": sum(f.action == "silence" for f in fits),
            },
            "cut_lines": [
                {"id": f.id, "slot": f.slot.model_dump(), "reason": f.reason} for f in fits if f.cut
            ],
            "failed_lines": [{"id": f.id, "reason": f.reason} for f in fits if f.failed],
            "loudness_lufs": dub.loudness_lufs,
            "synthesized_lines": dub.synthesized_lines,
            "cached_lines": sum(f.cached for f in fits),
        },
        "sync": sync_figures(plan, lipsync),
        "cache": cache_figures(translation, dub, lipsync),
        "stage_seconds": dict(stage_seconds or {}),
        "cost": cost_figures(plan, lipsync, gpu_price_per_hour),
    }


def speaker_figures(
    transcript: Transcript, dub: DubTrack, refs: VoiceRefs | None
) -> list[dict[str, Any]]:
    """Per speaker (the transcript's, then any a reviewer added): talk time, lines, the
    reference clip chosen (or why there is none) and the voice the dub gave them."""
    talk = talk_time(transcript.lines)
    rows = []
    for speaker in dict.fromkeys([*talk, *dub.voices]):
        ref = refs.of(speaker) if refs else None
        profile = refs.profile(speaker) if refs else None
        rows.append(
            {
                "speaker": speaker,
                "talk_s": talk.get(speaker, 0.0),
                "source_lines": sum(line.speaker == speaker for line in transcript.lines),
                "dub_lines": sum(fit.speaker == speaker for fit in dub.lines),
                "median_pitch_hz": profile.median_pitch_hz if profile else None,
                "reference": {
                    "source": ref.source,
                    "span": [ref.start, ref.end],
                    "text": ref.text,
                }
                if ref
                else None,
                "reference_missing": (refs.missing.get(speaker, "") if refs else "")
                if not ref
                else "",
                "voice": dub.voices.get(speaker, ""),
            }
        )
    return rows


def sync_figures(plan: SyncPlan, lipsync: LipSync) -> dict[str, Any]:
    """What the lip-sync engine was given and did. Frames (source fps): those in the plan's
    sync windows (``frames_sent_to_engine``) against every frame (``frames_total``, what a
    pipeline without windows sends) and against the speech-with-a-face lower bound; frames the
    engine failed on, left dub-only in the picture. Calls, failed calls and seconds count the
    windows computed for this result: a window reused from the segment store cost nothing."""
    computed = [s for s in lipsync.segments if s.status != "cached"]
    fallback_s = sum(p.end - p.start for s in lipsync.segments for p in s.pieces if not p.synced)
    return {
        "engine": plan.engine,
        "preset": plan.preset,
        "note": plan.note,
        "frames_total": plan.frames_total,
        "frames_sent_to_engine": plan.frames_in_windows,
        "frames_speech_bound": plan.frames_speech_bound,
        "faceless_frames_excluded": plan.faceless_frames_excluded,
        "frames_dub_only_fallback": round(fallback_s * plan.fps),
        "windows": len(plan.windows),
        "dub_only_pieces": sum(w.mode == "dub_only" for w in plan.windows)
        + sum(not p.synced for s in lipsync.segments for p in s.pieces),
        "engine_calls": sum(s.engine_calls for s in computed),
        "engine_failures": sum(s.engine_failures for s in computed),
        "engine_seconds": round(math.fsum(s.engine_seconds for s in computed), 2),
        "window_seconds": round(math.fsum(s.seconds for s in computed), 2),
        "bisect_depth_max": max((s.bisect_depth for s in lipsync.segments), default=0),
        "cached_segments": sum(s.status == "cached" for s in lipsync.segments),
        "composited": lipsync.composited,
    }


def cache_figures(translation: Translation, dub: DubTrack, lipsync: LipSync) -> dict[str, int]:
    """What was reused instead of computed: lip-sync windows from the segment store against
    windows the engine ran on, dub lines from the TTS cache against lines synthesized, and the
    translator's model requests (0 when every line came from its cache)."""
    return {
        "segments_reused": sum(s.status == "cached" for s in lipsync.segments),
        "segments_computed": sum(
            s.status != "cached" and s.engine_calls > 0 for s in lipsync.segments
        ),
        "tts_lines_cached": sum(fit.cached for fit in dub.lines),
        "tts_lines_synthesized": dub.synthesized_lines,
        "translation_model_requests": translation.model_requests,
    }


def cost_figures(plan: SyncPlan, lipsync: LipSync, price_per_hour: float) -> dict[str, Any]:
    """Engine seconds per layer with the provider's pool (its registry entry), the GPU-seconds
    (engine seconds of providers in the ``gpu`` pool) and their price. Lip-sync is the layer
    whose engine time is measured, per window; the video-level GPU stages are shared by every
    language of a video and are not charged to one localization."""
    engines: dict[str, dict[str, Any]] = {
        "lipsync": {
            "provider": plan.engine,
            "pool": pool_of(LIPSYNCERS, plan.engine),
            "seconds": round(math.fsum(s.engine_seconds for s in lipsync.segments), 2),
        }
    }
    gpu_seconds = round(math.fsum(e["seconds"] for e in engines.values() if e["pool"] == "gpu"), 2)
    return {
        "engine_seconds": engines,
        "gpu_seconds": gpu_seconds,
        "gpu_price_per_hour": price_per_hour,
        "estimated_cost_usd": round(gpu_seconds / 3600 * price_per_hour, 6),
    }


AUDIO_SLACK_S = 0.1


def audio_vs_picture(probe: MediaProbe) -> str:
    """What the output does where the source's sound and picture differ in length."""
    picture, audio = probe.picture_duration, probe.audio_duration
    if not probe.has_video or audio is None or abs(audio - picture) <= AUDIO_SLACK_S:
        return "same length"
    if audio < picture:
        return (
            f"the source audio ends {picture - audio:.2f} s before the picture: padded with silence"
        )
    return (
        f"the source audio runs {audio - picture:.2f} s past the picture: "
        "that part is not localized and not in the output"
    )


def spoken_lines(translation: Translation, dub: DubTrack) -> list[TranslatedLine]:
    """The translated lines as the dub speaks them: a line the translator shortened to fit
    its slot shows the shorter wording in the subtitles too."""
    shorter = {fit.id: fit.spoken_text for fit in dub.lines if fit.spoken_text}
    return [
        line.model_copy(update={"text": shorter[line.id]}) if line.id in shorter else line
        for line in translation.lines
    ]


def _burn_note(source: SourceVideo, cues: list[Cue]) -> str:
    """Why the subtitles cannot be burned into this source ('' when they can)."""
    size = source.probe.display_size
    if not cues:
        return "no subtitles to burn"
    if size is None or size[0] % 2 or size[1] % 2:
        return "not burned: an H.264 4:2:0 picture needs even dimensions"
    return ""


def assemble(
    workspace: Workspace,
    *,
    source: SourceVideo,
    translation: Translation,
    dub: DubTrack,
    lipsync: LipSync,
    report: dict[str, Any],
    burn: bool = False,
) -> LocalizedVideo:
    """Write and store ``<id>.<lang>.mp4``, ``.srt``, ``.vtt`` and ``report.json``; with
    ``burn``, the subtitles are also drawn into the picture (re-encoded once)."""
    language = translation.target_language
    prefix = output_prefix(source.video_id, language)
    scratch = workspace.scratch_dir("assemble", source.video_id, language)
    name = f"{source.video_id}.{language}"
    original = media.extract_full_audio(
        workspace.local(source.key), scratch / "original.wav", keep_channels=True
    )
    original_track = media.AudioTrack(
        path=str(original), language=language_tag(translation.source_language), title="Original"
    )
    tracks = [original_track]
    if dub.has_speech:
        dub_track = media.AudioTrack(
            path=str(workspace.local(dub.mix_key)),
            language=language_tag(language),
            title=f"Dub ({language})",
        )
        tracks = [dub_track, original_track]
    cues = cues_from_lines(
        spoken_lines(translation, dub),
        fps=float(source.probe.fps or 25),
        duration=source.probe.picture_duration,
    )
    picture = workspace.local(lipsync.video_key)
    rotation = source.probe.rotation if lipsync.composited else None
    burned, burn_note = False, _burn_note(source, cues) if burn else ""
    if burn and not burn_note:
        ass = write_burn_in(cues, scratch / f"{name}.ass", source.probe.display_size or (0, 0))
        turn = source.probe.rotation if lipsync.composited else 0
        picture = media.burn_subtitles(picture, ass, scratch / "burned.mp4", turn=turn)
        burned, rotation = True, None  # the burned picture is upright
    video = media.mux(
        picture,
        tracks,
        scratch / f"{name}.mp4",
        duration=source.probe.picture_duration,
        rotation=rotation,
    )
    srt = write_subtitles(cues, scratch / f"{name}.srt")
    vtt = write_subtitles(cues, scratch / f"{name}.vtt")
    facts = media.probe(video)
    report = {
        **report,
        "output": {
            "file": f"{name}.mp4",
            "duration": facts.duration,
            "frames": facts.frame_count,
            "audio_tracks": len(facts.audio_streams),
            "subtitle_cues": len(cues),
            "fast_cues": sum(c.fast for c in cues),
        },
        # cues read faster than 17 characters per second: kept, listed for the reviewer
        "subtitles": {
            "cues": len(cues),
            "fast": fast_cues(cues),
            "burned": burned,
            "burn_note": burn_note,
        },
    }
    report_path = scratch / "report.json"
    report_path.write_text(json.dumps(report, indent=2, default=str))
    keys = {}
    for suffix, path in (("mp4", video), ("srt", srt), ("vtt", vtt)):
        keys[suffix] = f"{prefix}/{name}.{suffix}"
        workspace.put(keys[suffix], path)
    # the report goes last: its presence means the delivery is complete
    workspace.put(f"{prefix}/report.json", report_path)
    return LocalizedVideo(
        video_key=keys["mp4"],
        srt_key=keys["srt"],
        vtt_key=keys["vtt"],
        report_key=f"{prefix}/report.json",
        duration=facts.duration,
        has_speech=dub.has_speech,
        frame_count=facts.frame_count,
    )
