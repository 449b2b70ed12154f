"""`voice_refs`: a clean 6-10 s clip of each speaker, with what it says, for voice matching.

Voice-cloning engines (XTTS, F5-TTS, CosyVoice) condition on a short reference recording and
its transcript (``ref_text``). The clip is cut from the vocals stem at word boundaries (Whisper's
word timestamps), so the words are exactly the clip's, and chosen for being speech throughout
(energy VAD), at a usable level and barely clipped. A user can put their own clip in its place
(``localize voice``); it is kept until they remove it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from localization_core.artifacts import Speaker, Stems, VoiceRef, VoiceRefs
from localization_core.audio import (
    Samples,
    energy_spans,
    median_pitch_hz,
    read_audio,
    rms_db,
    write_audio,
)
from localization_core.domain import DubLine, Transcript, Word
from localization_core.errors import InvalidInputError
from localization_core.speakers import talk_time
from localization_core.workspace import Workspace

MIN_S, MAX_S = 6.0, 10.0
EDGE_S = 0.1
MIN_COVERAGE = 0.9
MAX_CLIPPED = 0.001
LEVEL_RANGE_DB = (-35.0, -6.0)
CLIPPED_AT = 0.999
VAD_FRAME_S = 0.02
SHORTLIST = 20
PITCH_SAMPLE_S = 60.0  # a speaker's pitch is measured on at most this much of their speech


def user_key(video_id: str, speaker: str) -> str:
    """Where ``localize voice`` stores a user's reference clip for ``speaker``."""
    return f"videos/{video_id}/voice/{speaker}.user.wav"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def coverage(samples: Samples, rate: int) -> float:
    """Share of ``samples`` that energy VAD finds active (judged on the clip's own level)."""
    if not len(samples):
        return 0.0
    active = sum(span.duration for span in energy_spans(samples, rate))
    return min(1.0, active / (len(samples) / rate))


def _spans(words: Sequence[Word], end_of_audio: float) -> Iterator[tuple[int, int, float, float]]:
    """(first, last, start, end) of every word-aligned stretch of 6-10 s."""
    for first, word in enumerate(words):
        start = max(0.0, word.start - EDGE_S)
        for last in range(first, len(words)):
            end = min(end_of_audio, words[last].end + EDGE_S)
            if end - start > MAX_S:
                break
            if end - start >= MIN_S:
                yield first, last, start, end


def _shortlist(
    words: Sequence[Word], vocals: Samples, rate: int, keep: int = SHORTLIST
) -> list[tuple[int, int]]:
    """The stretches with the most speech, judged on the whole track's voice activity (cheap
    for every candidate; the few kept are then measured on their own audio)."""
    frame = round(VAD_FRAME_S * rate)
    active = np.zeros(len(vocals) // frame + 1, dtype=np.int64)
    for span in energy_spans(vocals, rate, frame_s=VAD_FRAME_S):
        active[int(span.start / VAD_FRAME_S) : int(span.end / VAD_FRAME_S)] = 1
    total = np.concatenate([[0], np.cumsum(active)])
    scored = []
    for first, last, start, end in _spans(words, len(vocals) / rate):
        lo, hi = int(start / VAD_FRAME_S), max(int(start / VAD_FRAME_S) + 1, int(end / VAD_FRAME_S))
        scored.append(((total[hi] - total[lo]) / (hi - lo), end - start, first, last))
    scored.sort(reverse=True)
    return [(first, last) for _, _, first, last in scored[:keep]]


def _measure(
    speaker: str, words: Sequence[Word], span: tuple[int, int], vocals: Samples, rate: int
) -> VoiceRef:
    first, last = span
    start = max(0.0, words[first].start - EDGE_S)
    end = min(len(vocals) / rate, words[last].end + EDGE_S)
    clip = vocals[int(start * rate) : int(end * rate)]
    return VoiceRef(
        speaker=speaker,
        key="",
        start=round(start, 3),
        end=round(end, 3),
        text=" ".join("".join(w.text for w in words[first : last + 1]).split()),
        vad_coverage=round(coverage(clip, rate), 4),
        level_db=round(rms_db(clip), 2),
        clipped_share=round(float(np.mean(np.abs(clip) >= CLIPPED_AT)) if len(clip) else 0.0, 5),
    )


def _score(ref: VoiceRef) -> tuple[bool, float, float]:
    """Usable first, then more speech, then a level nearer the middle of the usable range."""
    low, high = LEVEL_RANGE_DB
    usable = (
        ref.vad_coverage >= MIN_COVERAGE
        and ref.clipped_share <= MAX_CLIPPED
        and low <= ref.level_db <= high
    )
    return usable, ref.vad_coverage, -abs(ref.level_db - (low + high) / 2)


def choose(speaker: str, lines: Sequence[DubLine], vocals: Samples, rate: int) -> VoiceRef | str:
    """The best reference of ``speaker`` in ``vocals``, or why there is none."""
    words = [word for line in lines if line.speaker == speaker for word in line.words]
    candidates = [
        _measure(speaker, words, span, vocals, rate) for span in _shortlist(words, vocals, rate)
    ]
    if not candidates:
        return f"less than {MIN_S:g} s of continuous speech with word timings"
    best = max(candidates, key=_score)
    if not _score(best)[0]:
        return best.model_copy(update={"note": "no stretch met every criterion; best kept"})
    return best


def pick_voice_refs(
    workspace: Workspace, video_id: str, stems: Stems, transcript: Transcript
) -> VoiceRefs:
    """Each speaker's reference: the user's clip where one was given, else the best stretch."""
    vocals, rate = read_audio(workspace.local(stems.vocals_key), mono=True)
    scratch = workspace.scratch_dir("voice_refs", video_id)
    refs: list[VoiceRef] = []
    missing: dict[str, str] = {}
    for speaker in sorted({line.speaker for line in transcript.lines}):
        user = _user_ref(workspace, video_id, speaker)
        if user is not None:
            refs.append(user)
            continue
        chosen = choose(speaker, transcript.lines, vocals, rate)
        if isinstance(chosen, str):
            missing[speaker] = chosen
            continue
        clip = vocals[int(chosen.start * rate) : int(chosen.end * rate)]
        key = f"videos/{video_id}/voice/{speaker}.wav"
        path = write_audio(scratch / f"{speaker}.wav", clip, rate)
        workspace.put(key, path)
        refs.append(chosen.model_copy(update={"key": key, "digest": file_digest(path)}))
    speakers = speaker_profiles(transcript.lines, vocals, rate)
    return VoiceRefs(refs=tuple(refs), missing=missing, speakers=speakers)


def speaker_profiles(lines: Sequence[DubLine], vocals: Samples, rate: int) -> tuple[Speaker, ...]:
    """Each speaker's talk time, line count and median pitch (over their own lines), ranked by
    talk time (most first; ties by id)."""
    talk = talk_time(lines)
    ranked = sorted(talk, key=lambda speaker: (-talk[speaker], speaker))
    return tuple(
        Speaker(
            speaker=speaker,
            talk_s=talk[speaker],
            lines=sum(line.speaker == speaker for line in lines),
            median_pitch_hz=_pitch_of(speaker, lines, vocals, rate),
            ordinal=rank,
        )
        for rank, speaker in enumerate(ranked)
    )


def _pitch_of(speaker: str, lines: Sequence[DubLine], vocals: Samples, rate: int) -> float | None:
    """The median pitch of the first ``PITCH_SAMPLE_S`` of ``speaker``'s lines."""
    pieces: list[Samples] = []
    taken = 0.0
    for line in lines:
        if line.speaker != speaker or taken >= PITCH_SAMPLE_S:
            continue
        pieces.append(vocals[int(line.start * rate) : int(line.end * rate)])
        taken += line.end - line.start
    joined = np.concatenate(pieces) if pieces else vocals[:0]
    pitch = median_pitch_hz(joined, rate)
    return round(pitch, 2) if pitch else None


def _user_ref(workspace: Workspace, video_id: str, speaker: str) -> VoiceRef | None:
    key = user_key(video_id, speaker)
    if not workspace.storage.exists(key):
        return None
    return VoiceRef.model_validate_json(workspace.storage.read_bytes(f"{key}.json"))


def set_user_ref(
    workspace: Workspace, video_id: str, speaker: str, clip: Path, text: str
) -> VoiceRef:
    """Store a user's reference clip (any audio ffmpeg reads) with its transcript."""
    from localization_core import media

    if not text.strip():
        raise InvalidInputError("the reference clip needs its transcript (what it says)")
    scratch = workspace.scratch_dir("voice_refs", video_id)
    wav = media.resample_audio(clip, scratch / f"{speaker}.user.wav", rate=48000, channels=1)
    samples, rate = read_audio(wav, mono=True)
    seconds = len(samples) / rate
    if not 3.0 <= seconds <= 30.0:
        raise InvalidInputError(f"{clip.name}: {seconds:.1f} s; a reference is 3-30 s of speech")
    key = user_key(video_id, speaker)
    ref = VoiceRef(
        speaker=speaker,
        key=key,
        start=0.0,
        end=round(seconds, 3),
        text=" ".join(text.split()),
        vad_coverage=round(coverage(samples, rate), 4),
        level_db=round(rms_db(samples), 2),
        clipped_share=round(float(np.mean(np.abs(samples) >= CLIPPED_AT)), 5),
        source="user",
        digest=file_digest(wav),
        note=f"given by the user ({clip.name})",
    )
    workspace.put(key, wav)
    workspace.storage.write_bytes(f"{key}.json", ref.model_dump_json().encode())
    return ref
