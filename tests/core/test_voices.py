"""The dub voice: piper for English (heard back word for word), espeak-ng elsewhere, matched
to the speaker; and the speaker's reference clip chosen from the vocals stem."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer
import numpy as np
import pytest

from localization_core.artifacts import VoiceRef
from localization_core.audio import median_pitch_hz, read_audio
from localization_core.domain import DubLine, Word
from localization_core.providers.separation.registry import create_separator
from localization_core.providers.synthesis.base import VoiceHint
from localization_core.providers.synthesis.piper import PiperSynthesizer, length_scale, pitch_shift
from localization_core.providers.synthesis.registry import create_synthesizer
from localization_core.providers.transcription.base import Transcriber
from localization_core.providers.transcription.registry import create_transcriber
from localization_core.settings import Settings
from localization_core.stages import voice_refs
from localization_core.stages.dub_track import _time_stretch, trim_silence
from tests.conftest import MODELS, media_file

LINES = (
    "The river was calm and the boats were waiting for the morning tide.",
    "We will open the new library next week, after the final inspection.",
)


def normalized(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        LOCALIZATION_DATA_DIR=tmp_path_factory.mktemp("v"), LOCALIZATION_MODELS_DIR=MODELS
    )


@pytest.fixture(scope="module")
def tiny(settings: Settings) -> Transcriber:
    return create_transcriber(settings, model="tiny.en")


@pytest.mark.parametrize("ratio", [1.0, 1.2])
def test_english_is_spoken_by_piper_and_heard_back_word_for_word(
    tiny: Transcriber, ratio: float, tmp_path: Path
) -> None:
    """Each line as the dub renders it (trimmed, compressed up to the 1.2x limit)."""
    synth = create_synthesizer(Settings())
    assert synth.name == "piper" and synth.signature("en", VoiceHint()).startswith("piper|")
    for number, text in enumerate(LINES):
        raw = synth.synthesize(
            text, "en", VoiceHint(median_pitch_hz=120.0), tmp_path / f"{number}.wav"
        )
        samples, rate = read_audio(raw, mono=True)
        fitted = _time_stretch(trim_silence(samples, rate), rate, ratio)
        from localization_core.audio import write_audio

        line = write_audio(tmp_path / f"{number}-fit.wav", fitted, rate)
        heard = " ".join(item.text for item in tiny.transcribe(line).lines)
        error = jiwer.wer(normalized(text), normalized(heard))
        assert error < 0.10, (text, heard, error)


def test_languages_without_a_neural_voice_fall_back_to_espeak(tmp_path: Path) -> None:
    synth = PiperSynthesizer()
    assert synth.signature("de", VoiceHint()).startswith("espeak-ng|de")
    assert "espeak-ng" in synth.describe("de") and "not a clone" in synth.describe("en")
    out = synth.synthesize(
        "Guten Morgen, wie geht es Ihnen?", "de", VoiceHint(), tmp_path / "de.wav"
    )
    samples, rate = read_audio(out, mono=True)
    assert rate == 22050 and len(samples) / rate > 0.8


def test_the_same_line_gives_the_same_waveform(tmp_path: Path) -> None:
    synth = PiperSynthesizer()
    first = synth.synthesize(LINES[0], "en", VoiceHint(), tmp_path / "a.wav")
    second = synth.synthesize(LINES[0], "en", VoiceHint(), tmp_path / "b.wav")
    assert first.read_bytes() == second.read_bytes()


def test_pitch_moves_toward_the_speaker_within_four_semitones(tmp_path: Path) -> None:
    synth = PiperSynthesizer()
    plain = synth.synthesize(LINES[1], "en", VoiceHint(), tmp_path / "plain.wav")
    own = median_pitch_hz(*read_audio(plain, mono=True))
    assert own is not None
    higher = synth.synthesize(
        LINES[1], "en", VoiceHint(median_pitch_hz=own * 1.26), tmp_path / "hi.wav"
    )
    shifted = median_pitch_hz(*read_audio(higher, mono=True))
    assert shifted is not None and 1.12 < shifted / own < 1.40  # 4 semitones = x1.26
    assert pitch_shift(100.0, 400.0) == 4.0 and pitch_shift(100.0, 25.0) == -4.0
    assert pitch_shift(100.0, 101.0) == 0.0 and pitch_shift(None, 200.0) == 0.0


def test_pace_follows_the_source_line_within_limits() -> None:
    assert length_scale(None) == 1.0
    assert length_scale(1.1) == pytest.approx(0.909, abs=1e-3)
    assert length_scale(3.0) == 0.8 and length_scale(0.2) == 1.25


def test_the_reference_is_a_clean_stretch_of_the_vocals_with_its_words(
    settings: Settings, tiny: Transcriber, tmp_path: Path
) -> None:
    """On a real talking-head clip: separated, transcribed with word timings, then chosen."""
    base = create_transcriber(settings, model="base")
    stems = create_separator(Settings()).separate(
        media_file("talking_head_512_25fps.mp4"), tmp_path
    )
    from localization_core import media

    speech = media.extract_speech_audio(Path(stems.vocals_path), tmp_path / "speech.wav")
    transcript = base.transcribe(speech)
    vocals, rate = read_audio(Path(stems.vocals_path), mono=True)
    chosen = voice_refs.choose("S1", transcript.lines, vocals, rate)
    assert isinstance(chosen, VoiceRef), chosen
    assert voice_refs.MIN_S <= chosen.duration <= voice_refs.MAX_S
    clip = vocals[int(chosen.start * rate) : int(chosen.end * rate)]
    # checked again on the clip itself: speech throughout, the words it says
    assert voice_refs.coverage(clip, rate) > 0.9 and chosen.vad_coverage > 0.9
    from localization_core.audio import write_audio

    heard = base.transcribe(
        media.extract_speech_audio(
            write_audio(tmp_path / "ref.wav", clip, rate), tmp_path / "r16.wav"
        ),
        language=transcript.language,
    )
    said = " ".join(line.text for line in heard.lines)
    assert jiwer.wer(normalized(chosen.text), normalized(said)) < 0.3, (chosen.text, said)


def test_without_six_seconds_of_speech_there_is_no_reference() -> None:
    words = (Word(start=0.5, end=0.9, text=" hi"), Word(start=1.0, end=1.4, text=" there"))
    line = DubLine(id=1, start=0.5, end=1.4, text="hi there", words=words)
    silence = np.zeros(48000 * 3, dtype=np.float32)
    assert "less than 6 s" in str(voice_refs.choose("S1", [line], silence, 48000))
