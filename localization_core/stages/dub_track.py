"""`dub_track`: synthesize each translated line, fit it to its slot, mix over the background.

Isochrony per DESIGN section 4: measured after trimming the clip's silence, stretched at most
1.1x, compressed at most 1.2x after borrowing the following silence (leaving a 0.15 s breath),
shortened by the translator when it can, and cut with a 30 ms fade as a last resort. A cut line
is flagged for a reviewer, never failed: only synthesis failures (the engine erred or returned
nothing usable) count: each failed line becomes silence, and more than 20% of them fail the
dub's blocking quality check (``over_failure_limit``), which stops everything after it. Both are
reported line by line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile

from localization_core import media
from localization_core.artifacts import DubTrack, LineFit, SourceVideo, Stems, VoiceRefs
from localization_core.audio import (
    Samples,
    duck_gain,
    energy_spans,
    median_pitch_hz,
    read_audio,
    write_audio,
)
from localization_core.cache import SegmentStore, cache_key
from localization_core.domain import Span, TranslatedLine, Translation
from localization_core.errors import TTSGenerationError
from localization_core.media import atomic_output
from localization_core.providers.synthesis.base import Synthesizer, VoiceHint
from localization_core.providers.translation.base import Shorten
from localization_core.providers.translation.budget import chars_per_second
from localization_core.review import slot_of
from localization_core.timing import FADE_S, MAX_COMPRESS, FitPlan, plan_fit
from localization_core.workspace import Workspace

MIX_RATE = 48000
MIX_BLOCK_S = 30.0
MAX_FAILED_SHARE = 0.2
DUCK_UNDER_DUB_DB = -12.0
TRIM_BELOW_PEAK_DB = 40.0

Progress = Callable[[int, int], None]


def trim_silence(samples: Samples, rate: int) -> Samples:
    """Drop leading and trailing silence (40 dB below the clip's peak level)."""
    spans = energy_spans(
        samples,
        rate,
        frame_s=0.01,
        below_peak_db=TRIM_BELOW_PEAK_DB,
        hangover_s=0.0,
        min_span_s=0.0,
    )
    if not spans:
        return samples[:0]
    return samples[int(spans[0].start * rate) : int(spans[-1].end * rate)]


def _time_stretch(samples: Samples, rate: int, ratio: float) -> Samples:
    if abs(ratio - 1.0) < 1e-3:
        return samples
    import pyrubberband

    stretched = pyrubberband.time_stretch(samples, rate, ratio)
    return np.asarray(stretched, dtype=np.float32)


def _fade_out(samples: Samples, rate: int) -> Samples:
    fade = min(len(samples), int(FADE_S * rate))
    if fade:
        samples = samples.copy()
        samples[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return samples


class _LineRenderer:
    """Synthesizes (with a per-line cache) and fits one line at a time."""

    def __init__(
        self,
        workspace: Workspace,
        synthesizer: Synthesizer,
        languages: tuple[str, str],
        voices: Callable[[str], VoiceHint],
        scratch: Path,
    ) -> None:
        self.workspace = workspace
        self.synthesizer = synthesizer
        self.source_language, self.language = languages
        self.voices = voices
        self.scratch = scratch
        self.store = SegmentStore(workspace.storage, "cache/tts", ".wav")
        self.synthesized = 0  # lines the synthesizer was asked for (the rest were cache hits)

    def clip(self, line: TranslatedLine) -> tuple[Samples, str, str]:
        """The trimmed TTS clip of ``line`` at MIX_RATE, its cache entry (synthesized once) and
        the engine's parameters it was spoken with."""
        voice = self.voice_of(line)
        engine = self.synthesizer.signature(self.language, voice)
        key = cache_key(
            "tts", text=line.text, language=self.language, engine=engine, voice=voice.model_dump()
        )
        if not self.store.has(key):
            raw = self.synthesizer.synthesize(
                line.text, self.language, self.local(voice), self.scratch / f"line-{line.id}.wav"
            )
            self.store.put(key, raw)
            self.synthesized += 1
        local = self.workspace.local(self.store.key_for(key))
        resampled = media.resample_audio(
            local, self.scratch / f"line-{line.id}-48k.wav", rate=MIX_RATE, channels=1
        )
        samples, _ = read_audio(resampled, mono=True)
        return trim_silence(samples, MIX_RATE), self.store.key_for(key), engine

    def voice_of(self, line: TranslatedLine) -> VoiceHint:
        """The voice ``line`` is spoken in: its speaker's, at the source line's pace."""
        return self.voices(line.speaker).model_copy(update={"pace": self.pace(line)})

    def local(self, voice: VoiceHint) -> VoiceHint:
        """``voice`` with its reference clip as a local file, as synthesizers read it."""
        if voice.reference_audio is None:
            return voice
        path = self.workspace.local(voice.reference_audio)
        return voice.model_copy(update={"reference_audio": str(path)})

    def pace(self, line: TranslatedLine) -> float | None:
        """How fast the source line is spoken relative to its language's usual rate (from
        where it was spoken: a reviewer's retiming does not change the voice)."""
        spoken = slot_of(line).duration
        if spoken <= 0 or not line.source_text.strip():
            return None
        rate = len(" ".join(line.source_text.split())) / spoken
        return round(rate / chars_per_second(self.source_language), 2)


def _place(voice: Samples, clip: Samples, slot: Span, plan: FitPlan) -> int:
    """Time-fit ``clip`` per ``plan`` and add it at the slot start; returns samples placed."""
    fitted = _time_stretch(clip, MIX_RATE, plan.ratio)
    if plan.cut:
        fitted = _fade_out(fitted[: int(plan.placed_s * MIX_RATE)], MIX_RATE)
    begin = int(slot.start * MIX_RATE)
    end = min(len(voice), begin + len(fitted))
    voice[begin:end] += fitted[: end - begin]
    return end - begin


def _render_line(
    renderer: _LineRenderer,
    line: TranslatedLine,
    next_start: float,
    voice: Samples,
    shorten: Shorten | None = None,
) -> LineFit:
    slot = line.slot
    if not line.text.strip():
        return LineFit(id=line.id, slot=slot, action="empty", speaker=line.speaker)
    asked = renderer.synthesized
    try:
        clip, key, engine = renderer.clip(line)
        plan = plan_fit(len(clip) / MIX_RATE, slot, next_start)
        shorter = shorten(line, plan.placed_s * MAX_COMPRESS) if plan.cut and shorten else None
        if shorter:  # the translator's shorter wording, re-synthesized and re-fitted
            line = line.model_copy(update={"text": shorter})
            clip, key, engine = renderer.clip(line)
            plan = plan_fit(len(clip) / MIX_RATE, slot, next_start)
    except TTSGenerationError as exc:
        return LineFit(
            id=line.id,
            slot=slot,
            action="silence",
            failed=True,
            reason=exc.message,
            speaker=line.speaker,
        )
    synth_s = len(clip) / MIX_RATE
    if synth_s == 0:
        reason = "the synthesizer produced only silence"
        return LineFit(
            id=line.id,
            slot=slot,
            action="silence",
            failed=True,
            reason=reason,
            speaker=line.speaker,
        )
    placed = _place(voice, clip, slot, plan)
    return LineFit(
        id=line.id,
        slot=slot,
        speaker=line.speaker,
        voice=engine,
        synthesized_s=round(synth_s, 3),
        placed_s=round(placed / MIX_RATE, 3),
        action=plan.action,
        ratio=round(plan.ratio, 4),
        borrowed_s=round(plan.borrowed_s, 3),
        cut=plan.cut,
        shortened=bool(shorter),
        spoken_text=shorter or "",
        reason=_cut_reason(synth_s, plan) if plan.cut else "",
        key=key,
        cached=renderer.synthesized == asked,
    )


def _cut_reason(synth_s: float, plan: FitPlan) -> str:
    """Why a line was cut and how much of it was lost, for the reviewer."""
    lost = synth_s / plan.ratio - plan.placed_s
    return (
        f"overflow: {lost:.2f} s cut at the next line after {plan.ratio:.2f}x compression"
        f" and {plan.borrowed_s:.2f} s borrowed"
    )


def speaker_voice(
    workspace: Workspace, stems: Stems, refs: VoiceRefs | None = None, speaker: str = "S1"
) -> VoiceHint:
    """The speaker's median pitch and their reference clip, for voice matching and cloning."""
    return speaker_voices(workspace, stems, refs)(speaker)


def speaker_voices(
    workspace: Workspace,
    stems: Stems,
    refs: VoiceRefs | None = None,
    cast: Callable[[Sequence[VoiceHint]], tuple[VoiceHint, ...]] | None = None,
    speakers: Sequence[str] = (),
) -> Callable[[str], VoiceHint]:
    """Each speaker's voice: their own median pitch, their reference clip and rank, as ``cast``
    (the synthesizer's) sets them apart. The voices come from the transcript's speakers, so a
    line a reviewer gives to another speaker takes that speaker's voice and changes no other
    line; ``speakers`` the transcript does not know (a reviewer's new ones) rank after its own,
    by name, with the vocals' pitch."""
    profiles = refs.speakers if refs else ()
    known = {profile.speaker for profile in profiles}
    fallback_pitch = functools.cache(lambda: _vocals_pitch(workspace, stems))
    added = sorted(set(speakers) - known)

    def hint(speaker: str, pitch: float | None, ordinal: int) -> VoiceHint:
        ref = refs.of(speaker) if refs else None
        return VoiceHint(
            speaker=speaker,
            median_pitch_hz=pitch,
            reference_audio=ref.key if ref else None,
            reference_digest=ref.digest if ref else None,
            reference_text=ref.text if ref else None,
            ordinal=ordinal,
        )

    hints = [hint(p.speaker, p.median_pitch_hz or fallback_pitch(), p.ordinal) for p in profiles]
    hints += [hint(name, fallback_pitch(), len(profiles) + k) for k, name in enumerate(added)]
    cast_hints = {voice.speaker: voice for voice in (cast(hints) if cast else hints)}

    @functools.cache
    def voice(speaker: str) -> VoiceHint:
        if speaker in cast_hints:
            return cast_hints[speaker]
        return hint(speaker, fallback_pitch(), len(hints))

    return voice


def _vocals_pitch(workspace: Workspace, stems: Stems) -> float | None:
    samples, rate = read_audio(workspace.local(stems.speech_key), mono=True)
    return median_pitch_hz(samples, rate)


def build_dub_track(
    workspace: Workspace,
    *,
    source: SourceVideo,
    stems: Stems,
    translation: Translation,
    synthesizer: Synthesizer,
    loudness_lufs: float,
    voice_refs: VoiceRefs | None = None,
    progress: Progress | None = None,
    shorten: Shorten | None = None,
) -> DubTrack:
    """Voice track and loudness-normalized mix of one localization, stored under its prefix."""
    language = translation.target_language
    prefix = f"localizations/{source.video_id}/{language}/dub"
    scratch = workspace.scratch_dir("dub", source.video_id, language)
    duration = source.probe.picture_duration
    voice = np.zeros(int(duration * MIX_RATE) + 1, dtype=np.float32)
    languages = (translation.source_language, language)
    voices = speaker_voices(
        workspace,
        stems,
        voice_refs,
        functools.partial(synthesizer.cast, language),
        speakers=[line.speaker for line in translation.lines],
    )
    renderer = _LineRenderer(workspace, synthesizer, languages, voices, scratch)
    lines = translation.lines
    fits: list[LineFit] = []
    for index, line in enumerate(lines):
        next_start = lines[index + 1].start if index + 1 < len(lines) else duration
        fits.append(_render_line(renderer, line, next_start, voice, shorten))
        if progress:
            progress(index + 1, len(lines))
    failed = sum(fit.failed for fit in fits)
    voice_path = write_audio(scratch / "voice.wav", voice, MIX_RATE)
    mix_path = _mix(workspace, stems, voice, scratch, loudness_lufs)
    workspace.put(f"{prefix}/voice.wav", voice_path)
    workspace.put(f"{prefix}/mix.wav", mix_path)
    return DubTrack(
        language=language,
        voice_key=f"{prefix}/voice.wav",
        mix_key=f"{prefix}/mix.wav",
        lines=tuple(fits),
        loudness_lufs=round(media.measure_loudness(mix_path).integrated_lufs, 2),
        failed_lines=failed,
        has_speech=bool(lines),
        synthesizer=synthesizer.name,
        voice=synthesizer.describe(language),
        synthesized_lines=sum(bool(fit.key) and not fit.cached for fit in fits),
        voices={
            speaker: synthesizer.signature(language, voices(speaker))
            for speaker in dict.fromkeys(line.speaker for line in lines)
        },
    )


def failed_share(dub: DubTrack) -> float:
    """The share of dub lines whose synthesis failed (0 for a dub without lines)."""
    return dub.failed_lines / len(dub.lines) if dub.lines else 0.0


def over_failure_limit(dub: DubTrack) -> bool:
    """More than 20% of the lines failed synthesis: not deliverable (DESIGN section 4)."""
    return failed_share(dub) > MAX_FAILED_SHARE


def _mix(workspace: Workspace, stems: Stems, voice: Samples, scratch: Path, lufs: float) -> Path:
    """Background ducked under the dub plus the dub, normalized to ``lufs``. Mixed and written
    ``MIX_BLOCK_S`` at a time: the stereo bed is never held whole (an hour of it is 1.4 GB)."""
    background_path = media.resample_audio(
        workspace.local(stems.background_key),
        scratch / "background-48k.wav",
        rate=MIX_RATE,
        channels=2,
    )
    spans = energy_spans(voice, MIX_RATE)
    block = int(MIX_BLOCK_S * MIX_RATE)
    raw = scratch / "mix-raw.wav"
    with (
        soundfile.SoundFile(str(background_path)) as background,
        atomic_output(raw) as tmp,
        soundfile.SoundFile(str(tmp), "w", MIX_RATE, 2, subtype="FLOAT", format="RF64") as mixed,
    ):
        frames = max(background.frames, len(voice))
        for start in range(0, frames, block):
            count = min(block, frames - start)
            bed = np.zeros((count, 2), dtype=np.float32)
            read = background.read(count, dtype="float32", always_2d=True)
            bed[: len(read)] = read
            bed *= duck_gain(spans, count, MIX_RATE, DUCK_UNDER_DUB_DB, start=start)[:, None]
            spoken = voice[start : start + count]
            bed[: len(spoken)] += spoken[:, None]
            mixed.write(bed)
    return media.normalize_loudness(raw, scratch / "mix.wav", target_lufs=lufs)
