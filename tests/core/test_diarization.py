"""Several speakers: the resemblyzer diarizer on real voices, speakers laid over the transcript,
one voice per speaker in the dub, and the report listing them.

The two-speaker clips are built here from real recordings in tests/media: JFK's inaugural line
(11.0 s), one second of silence, then another speaker: the French speech (6.7 s) for the
diarizer, the English talking head (8 s) for the stages (Whisper transcribes one language per
video and drops the other's speech). Who speaks when is known by construction, so the diarizer
is judged against it, not against a guess.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from localization_core.artifacts import DubTrack, LipSync, SourceVideo, Stems, SyncPlan
from localization_core.audio import energy_spans, read_audio
from localization_core.domain import (
    DubLine,
    MediaProbe,
    SeparationResult,
    Span,
    Transcript,
    TranslatedLine,
    Translation,
    Turn,
    Word,
)
from localization_core.errors import ConfigurationError
from localization_core.providers.diarization.base import Diarizer
from localization_core.providers.diarization.pyannote import pipeline_config
from localization_core.providers.diarization.registry import create_diarizer
from localization_core.providers.diarization.resemblyzer import ResemblyzerDiarizer
from localization_core.providers.synthesis.espeak import EspeakSynthesizer, voice_parameters
from localization_core.providers.synthesis.piper import PiperSynthesizer, spread_pitches
from localization_core.providers.transcription.base import Transcriber
from localization_core.providers.transcription.registry import create_transcriber
from localization_core.review import (
    ReviewState,
    apply_edits,
    export_review,
    read_review_file,
    submit,
)
from localization_core.settings import Settings
from localization_core.speakers import assign_speakers, speech_spans
from localization_core.stages.dub_track import build_dub_track
from localization_core.stages.localized_video import build_report
from localization_core.stages.transcript import transcribe
from localization_core.stages.voice_refs import pick_voice_refs
from localization_core.storage.local import LocalStorage
from localization_core.workspace import Workspace
from tests.conftest import MODELS, ffmpeg, media_file

JFK_END, SECOND_START = 11.0, 12.0


def speaker_truth(start: float, end: float) -> str:
    """Who speaks at [start, end] in a built clip: JFK first, the other speaker after."""
    return "jfk" if (start + end) / 2 < (JFK_END + SECOND_START) / 2 else "other"


def concat(out: Path, *parts: Path, pause_s: float = 1.0) -> Path:
    """``parts`` as one 16 kHz mono WAV with ``pause_s`` of silence between them."""
    inputs: list[str] = []
    labels = []
    for index, part in enumerate(parts):
        inputs += ["-i", str(part)]
        labels.append(f"[{index}:a]aresample=16000,aformat=channel_layouts=mono[a{index}]")
    silence = f"anullsrc=r=16000:cl=mono:d={pause_s}"
    chain = "".join(
        f"[a{i}]" + (f"[s{i}]" if i < len(parts) - 1 else "") for i in range(len(parts))
    )
    pauses = [f"{silence}[s{i}]" for i in range(len(parts) - 1)]
    count = 2 * len(parts) - 1
    graph = ";".join([*labels, *pauses, f"{chain}concat=n={count}:v=0:a=1[out]"])
    ffmpeg(*inputs, "-filter_complex", graph, "-map", "[out]", str(out))
    return out


@pytest.fixture(scope="module")
def two_speakers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two")
    return concat(
        folder / "jfk_then_french.wav",
        media_file("speech_en_jfk.flac"),
        media_file("speech_fr.flac"),
    )


@pytest.fixture(scope="module")
def diarizer() -> ResemblyzerDiarizer:
    return ResemblyzerDiarizer()


def voiced(path: Path) -> list[Span]:
    samples, rate = read_audio(path, mono=True)
    return energy_spans(samples, rate)


def correct_share(turns: tuple[Turn, ...], names: dict[str, str]) -> float:
    """Share of the diarized speech time given to the right person."""
    total = sum(turn.duration for turn in turns)
    right = 0.0
    for turn in turns:
        for start, end, who in ((0.0, JFK_END, "jfk"), (SECOND_START, 1e9, "other")):
            if names.get(turn.speaker) == who:
                right += max(0.0, min(turn.end, end) - max(turn.start, start))
    return right / total


def test_two_real_speakers_are_found_and_told_apart(
    two_speakers: Path, diarizer: ResemblyzerDiarizer
) -> None:
    turns = diarizer.diarize(two_speakers, voiced(two_speakers))
    assert {turn.speaker for turn in turns} == {"S1", "S2"}
    # S1 is whoever speaks first: JFK
    share = correct_share(turns, {"S1": "jfk", "S2": "other"})
    assert share >= 0.9, (share, turns)


@pytest.mark.parametrize(
    "clip", ["speech_en_jfk.flac", "speech_fr.flac", "talking_head_512_25fps.mp4"]
)
def test_one_real_speaker_is_one_speaker(
    clip: str, diarizer: ResemblyzerDiarizer, tmp_path: Path
) -> None:
    audio = concat(tmp_path / "one.wav", media_file(clip))
    turns = diarizer.diarize(audio, voiced(audio))
    assert turns and {turn.speaker for turn in turns} == {"S1"}


def test_a_fixed_count_is_obeyed(two_speakers: Path, diarizer: ResemblyzerDiarizer) -> None:
    speech = voiced(two_speakers)
    assert {turn.speaker for turn in diarizer.diarize(two_speakers, speech, 1)} == {"S1"}
    jfk = concat(two_speakers.parent / "jfk.wav", media_file("speech_en_jfk.flac"))
    assert len({turn.speaker for turn in diarizer.diarize(jfk, voiced(jfk), 2)}) == 2
    assert diarizer.diarize(two_speakers, []) == ()


def test_sixty_seconds_are_diarized_within_thirty(tmp_path: Path) -> None:
    """A fresh diarizer (its model loaded inside the timing) on 60 s of three real voices."""
    parts = [media_file(name) for name in ("speech_en_jfk.flac", "speech_fr.flac")] * 3
    parts += [media_file("talking_head_512_25fps.mp4")] * 2
    audio = concat(tmp_path / "minute.wav", *parts)
    samples, rate = read_audio(audio, mono=True)
    assert len(samples) / rate >= 60.0
    speech = voiced(audio)
    began = time.perf_counter()
    turns = ResemblyzerDiarizer().diarize(audio, speech)
    took = time.perf_counter() - began
    print(f"diarized {len(samples) / rate:.1f} s ({len(turns)} turns) in {took:.2f} s")
    assert took < 30.0
    assert len({turn.speaker for turn in turns}) == 3


def test_the_providers_by_setting_and_pyannote_says_it_is_missing(tmp_path: Path) -> None:
    single = create_diarizer(Settings(DIARIZER_PROVIDER="single"))
    spans = [Span(start=0.5, end=2.0), Span(start=3.0, end=4.0)]
    assert [turn.speaker for turn in single.diarize(tmp_path / "none.wav", spans)] == ["S1"] * 2
    pyannote = create_diarizer(Settings(DIARIZER_PROVIDER="pyannote"))
    with pytest.raises(ConfigurationError, match=r"needs pyannote\.audio") as missing:
        pyannote.diarize(tmp_path / "none.wav", spans)
    assert "\n" not in str(missing.value)
    with pytest.raises(ConfigurationError, match="PYANNOTE_MODEL_DIR"):
        pipeline_config(None)
    with pytest.raises(ConfigurationError, match=r"no config\.yaml"):
        pipeline_config(tmp_path)
    (tmp_path / "config.yaml").write_text("pipeline: {}\n")
    assert pipeline_config(tmp_path) == tmp_path / "config.yaml"
    with pytest.raises(ConfigurationError, match="unknown diarization provider"):
        create_diarizer(Settings(DIARIZER_PROVIDER="nobody"))


def words(*timed: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(start=a, end=b, text=f" {text}") for a, b, text in timed)


def test_a_line_is_split_where_the_speaker_changes_and_noise_is_ignored() -> None:
    changing = words((0.0, 0.4, "yes"), (0.5, 0.9, "indeed"), (1.0, 1.4, "but"), (1.5, 2, "no"))
    steady = words((3.0, 3.4, "one"), (3.5, 3.9, "two"), (4.0, 4.4, "three"))
    transcript = Transcript(
        language="en",
        language_probability=1.0,
        lines=(
            DubLine(id=1, start=0.0, end=2.0, text="yes indeed but no", words=changing),
            DubLine(id=2, start=3.0, end=4.4, text="one two three", words=steady),
            DubLine(id=3, start=5.0, end=6.0, text="no words"),
        ),
    )
    turns = (
        Turn(start=0.0, end=0.95, speaker="S1"),
        Turn(start=0.95, end=3.45, speaker="S2"),  # one stray word of S2 in line 2
        Turn(start=3.45, end=4.5, speaker="S1"),
        Turn(start=5.2, end=6.0, speaker="S2"),
    )
    assert speech_spans(transcript)[0] == Span(start=0.0, end=2.0)
    lines = assign_speakers(transcript, turns).lines
    assert [(line.id, line.speaker, line.text) for line in lines] == [
        (1, "S1", "yes indeed"),
        (2, "S2", "but no"),
        (3, "S1", "one two three"),
        (4, "S2", "no words"),
    ]
    assert lines[2].words == steady
    assert assign_speakers(transcript, ()) == transcript


def test_distinct_voices_per_speaker_for_each_cpu_engine() -> None:
    """espeak: another variant per rank; piper: pitches apart within the voice's reach, in
    the speakers' own order, and another pace per rank."""
    from localization_core.providers.synthesis.base import VoiceHint

    males = [VoiceHint(speaker=f"S{i + 1}", median_pitch_hz=120.0, ordinal=i) for i in range(3)]
    assert len({voice_parameters(voice) for voice in males}) == 3
    assert voice_parameters(VoiceHint(median_pitch_hz=230.0))[0] == "f3"
    assert EspeakSynthesizer().cast("de", males) == tuple(males)  # three men: m3, m2, m4
    low, high, near = spread_pitches([100.0, 220.0, 104.0], 98.88)
    assert low < near < high  # the same order as the speakers' own pitches
    semitones = 12 * np.log2(np.array([near / low, high / near]))
    assert (semitones > 2.49).all() and high <= 98.88 * 2 ** (4 / 12) + 0.01
    piper = PiperSynthesizer()
    cast = piper.cast("en", males[:2])
    pitches = [voice.median_pitch_hz or 0.0 for voice in cast]
    assert 12 * abs(np.log2(pitches[0] / pitches[1])) > 2.49 and {
        voice.ordinal for voice in cast
    } == {0, 1}
    # espeak numbers speakers within their register: the first woman gets f3 whatever her rank
    mixed = [*males[:2], VoiceHint(speaker="S3", median_pitch_hz=230.0, ordinal=2)]
    variants = [voice_parameters(voice)[0] for voice in EspeakSynthesizer().cast("de", mixed)]
    assert variants == ["m3", "m2", "f3"]


def test_windows_turns_and_clusters_on_made_up_embeddings() -> None:
    from localization_core.providers.diarization import resemblyzer as rz

    speech = [Span(start=0.0, end=0.3), Span(start=1.0, end=2.0), Span(start=3.0, end=5.0)]
    found = rz.windows(speech)
    assert [(round(a, 6), round(b, 6)) for a, b in found] == [(1, 2), (3, 4.6), (3.4, 5)]
    # two voices, the second only in the last stretch; the 0.3 s stretch takes its neighbour's
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    labels = rz.cluster(np.stack([a, a, b]), None, [1.0, 3.0, 3.0])
    assert labels[0] == labels[1] != labels[2]
    turns = rz.turns_of(speech, found, labels)
    spans = [(round(t.start, 6), round(t.end, 6)) for t in turns]
    assert spans == [(0.0, 0.3), (1.0, 2.0), (3.0, 4.0), (4.0, 5.0)]
    assert turns[0].speaker == turns[1].speaker == turns[2].speaker != turns[3].speaker
    # a voice heard for under 2 s is folded into the nearest one
    assert len(set(rz.cluster(np.stack([a, a, b]), None, [3.0, 3.0, 1.0]))) == 1
    assert rz.cluster(np.stack([a, a, b]), 1, [1.0] * 3) == [0, 0, 0]


def test_the_single_speaker_path_leaves_the_lines_as_they_were() -> None:
    line = DubLine(id=1, start=0.5, end=1.4, text="hi there",
                   words=words((0.5, 0.9, "hi"), (1.0, 1.4, "there")))  # fmt: skip
    transcript = Transcript(language="en", language_probability=1.0, lines=(line,))
    turns = create_diarizer(Settings()).diarize(Path("-"), speech_spans(transcript))
    assert assign_speakers(transcript, turns) == transcript


@pytest.fixture(scope="module")
def localized(
    diarizer: ResemblyzerDiarizer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Workspace, SourceVideo, Stems, Transcript]:
    """JFK, then the talking head, through the real stages: Whisper's lines with speakers."""
    root = tmp_path_factory.mktemp("workspace")
    two_speakers = concat(
        root / "jfk_then_talking_head.wav",
        media_file("speech_en_jfk.flac"),
        media_file("talking_head_512_25fps.mp4"),
    )
    workspace = Workspace(LocalStorage(root / "store"), root / "work")
    background = root / "background.wav"
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=21:a=0.005", "-ac", "2", str(background))
    workspace.put("videos/two/stems/speech.wav", two_speakers)
    workspace.put("videos/two/stems/background.wav", background)
    stems = Stems(
        vocals_key="videos/two/stems/speech.wav",
        background_key="videos/two/stems/background.wav",
        speech_key="videos/two/stems/speech.wav",
        separation=SeparationResult(vocals_path="", background_path="", method="test"),
    )
    duration = len(read_audio(two_speakers, mono=True)[0]) / 16000
    probe = MediaProbe(duration=duration, has_video=True, video_duration=duration)
    source = SourceVideo(
        video_id="two", key="k", filename="two.mp4", version="v", probe=probe, source_language="en"
    )
    whisper = create_transcriber(Settings(LOCALIZATION_MODELS_DIR=MODELS), model="base")
    transcript = transcribe(workspace, source, stems, whisper, diarizer=diarizer)
    return workspace, source, stems, transcript


def test_whisper_lines_get_the_right_speaker(
    localized: tuple[Workspace, SourceVideo, Stems, Transcript],
) -> None:
    transcript = localized[3]
    assert transcript.diarizer == "resemblyzer"
    names = {"S1": "jfk", "S2": "other"}
    assert {speaker_truth(line.start, line.end) for line in transcript.lines} == set(
        names.values()
    )  # Whisper heard both speakers
    total = sum(line.end - line.start for line in transcript.lines)
    right = sum(
        line.end - line.start
        for line in transcript.lines
        if names[line.speaker] == speaker_truth(line.start, line.end)
    )
    assert right / total >= 0.9, [(ln.start, ln.end, ln.speaker) for ln in transcript.lines]
    assert [line.id for line in transcript.lines] == list(range(1, len(transcript.lines) + 1))


def test_the_dub_gives_each_speaker_their_own_voice_and_the_report_lists_them(
    localized: tuple[Workspace, SourceVideo, Stems, Transcript],
) -> None:
    workspace, source, stems, transcript = localized
    refs = pick_voice_refs(workspace, "two", stems, transcript)
    assert [one.speaker for one in refs.speakers] == ["S1", "S2"]  # JFK talks most
    lines = tuple(
        TranslatedLine(**line.model_dump(exclude={"text", "words"}), source_text=line.text,
                       text=line.text)
        for line in transcript.lines
    )  # fmt: skip
    translation = Translation(source_language="en", target_language="en", lines=lines)

    def dub(translation: Translation) -> DubTrack:
        return build_dub_track(
            workspace,
            source=source,
            stems=stems,
            translation=translation,
            synthesizer=PiperSynthesizer(),
            loudness_lufs=-16.0,
            voice_refs=refs,
        )

    track = dub(translation)
    by_speaker: dict[str, set[str]] = {}
    for fit in track.lines:
        by_speaker.setdefault(fit.speaker, set()).add(fit.voice)
    assert set(by_speaker) == {"S1", "S2"}
    assert not by_speaker["S1"] & by_speaker["S2"]
    assert len(set(track.voices.values())) == 2
    report = build_report(
        source=source,
        stems=stems,
        transcript=transcript,
        translation=translation,
        dub=track,
        plan=SyncPlan(duration=source.probe.duration, fps=25.0, engine="dub_only"),
        lipsync=LipSync(video_key="k"),
        voice_refs=refs,
    )
    listed = {one["speaker"]: one for one in report["speakers"]}
    assert set(listed) == {"S1", "S2"} and report["diarizer"] == "resemblyzer"
    for speaker, one in listed.items():
        assert one["talk_s"] > 0 and one["voice"] == track.voices[speaker]
        assert one["reference"] or one["reference_missing"]

    # a reviewer gives one line to the other speaker in the review file (the `localize edit`
    # flow): only that line is spoken again
    sheet = export_review(translation, workspace.scratch_dir("review") / "review.csv")
    with sheet.open(newline="") as readable:
        rows = list(csv.reader(readable))
    moved = translation.lines[0]
    other = "S2" if moved.speaker == "S1" else "S1"
    rows[1][3] = other  # the header, then line 1: id, start, end, speaker, ...
    with sheet.open("w", newline="") as writable:
        csv.writer(writable).writerows(rows)
    state, changed = submit(ReviewState(), translation, read_review_file(sheet, {}))
    assert changed == [moved.id]
    again = dub(apply_edits(translation, state))
    assert again.synthesized_lines == 1
    assert [fit.key for fit in again.lines[1:]] == [fit.key for fit in track.lines[1:]]
    assert again.lines[0].key != track.lines[0].key and again.lines[0].speaker == other
    assert again.lines[0].voice != track.lines[0].voice


def test_a_new_speaker_s_first_cue_starts_with_a_dash() -> None:
    from localization_core.subtitles import cues_from_lines

    said = [("S1", "Good evening."), ("S1", "Welcome."), ("S2", "Thank you."), ("S1", "So.")]
    lines = [
        TranslatedLine(id=i + 1, start=2.0 * i, end=2.0 * i + 1.5, speaker=who, source_text="-",
                       text=text)
        for i, (who, text) in enumerate(said)
    ]  # fmt: skip
    cues = cues_from_lines(lines)
    assert [cue.text for cue in cues] == ["Good evening.", "Welcome.", "- Thank you.", "- So."]


class _Heard(Transcriber):
    """A transcriber that hears the given lines."""

    def __init__(self, transcript: Transcript) -> None:
        self.heard = transcript

    def transcribe(self, audio: Path, language: str | None = None) -> Transcript:
        return self.heard

    def detect_language(self, audio: Path) -> tuple[str, float]:
        return self.heard.language, 1.0

    def supported_languages(self) -> frozenset[str]:
        return frozenset({"en"})


class _Turns(Diarizer):
    """A diarizer that answers the given turns."""

    name = "given"

    def __init__(self, turns: tuple[Turn, ...]) -> None:
        self.turns = turns

    def diarize(
        self, audio: Path, speech: Sequence[Span], speakers: int | None = None
    ) -> tuple[Turn, ...]:
        return self.turns


def test_a_line_split_at_the_picture_s_end_stays_within_the_picture(tmp_path: Path) -> None:
    """Speech that outlasts the picture is cut after the speakers are laid over the lines, so a
    piece of a split line never reaches past the picture."""
    said = words((8.0, 8.5, "one"), (8.6, 9.0, "two"), (9.6, 10.0, "three"), (10.1, 10.5, "four"))
    line = DubLine(id=1, start=8.0, end=10.5, text="x", words=said)
    heard = Transcript(language="en", language_probability=1.0, lines=(line,))
    turns = (Turn(start=8.0, end=9.3, speaker="S1"), Turn(start=9.3, end=10.6, speaker="S2"))
    workspace = Workspace(LocalStorage(tmp_path / "s"), tmp_path / "w")
    workspace.storage.write_bytes("c", b"the speech stem (read by neither stand-in)")
    probe = MediaProbe(duration=10.0, has_video=True, video_duration=10.0)
    source = SourceVideo(video_id="v", key="k", filename="v.mp4", version="1", probe=probe,
                         source_language="en")  # fmt: skip
    stems = Stems(vocals_key="a", background_key="b", speech_key="c",
                  separation=SeparationResult(vocals_path="", background_path=""))  # fmt: skip
    lines = transcribe(workspace, source, stems, _Heard(heard), diarizer=_Turns(turns)).lines
    assert [(line.speaker, line.text) for line in lines] == [
        ("S1", "one two"),
        ("S2", "three four"),
    ]
    assert max(one.end for one in lines) <= 10.0


def test_speakers_a_reviewer_adds_get_voices_of_their_own(tmp_path: Path) -> None:
    from localization_core.artifacts import Speaker, VoiceRefs
    from localization_core.stages.dub_track import speaker_voices

    workspace = Workspace(LocalStorage(tmp_path / "s"), tmp_path / "w")
    tone = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=150:d=2", str(tone))
    workspace.put("speech.wav", tone)
    stems = Stems(vocals_key="speech.wav", background_key="-", speech_key="speech.wav",
                  separation=SeparationResult(vocals_path="", background_path=""))  # fmt: skip
    refs = VoiceRefs(speakers=(Speaker(speaker="S1", talk_s=5, lines=2, median_pitch_hz=120),))
    cast = EspeakSynthesizer().cast
    voices = speaker_voices(workspace, stems, refs, lambda hints: cast("de", hints),
                            speakers=["S1", "S9", "S7"])  # fmt: skip
    chosen = {name: voice_parameters(voices(name)) for name in ("S1", "S7", "S9")}
    assert len(set(chosen.values())) == 3, chosen
    # a VoiceRefs stored before speakers were profiled: everyone at the vocals' pitch, rank 0
    old = speaker_voices(workspace, stems, VoiceRefs())("S1")
    assert old.ordinal == 0 and old.median_pitch_hz == pytest.approx(150, rel=0.05)
