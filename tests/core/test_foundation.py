"""Settings, errors, domain models, model installation, provider registry, sidecar files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from localization_core import errors
from localization_core.domain import (
    DubLine,
    MediaProbe,
    SeparationResult,
    Span,
    Transcript,
    TranslatedLine,
    Translation,
    Word,
)
from localization_core.models import install_models, main, model_dir
from localization_core.providers.registry import Entry, load_provider
from localization_core.providers.translation.base import TranslationRequest
from localization_core.providers.translation.registry import create_translator
from localization_core.settings import Settings, get_settings


def test_settings_read_env_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEPARATOR_PROVIDER", "demucs")
    monkeypatch.setenv("TTS_PROVIDER", "http")
    monkeypatch.setenv("LOCALIZATION_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.separator_provider == "demucs"
    assert settings.tts_provider == "http"
    assert settings.storage_root == tmp_path / "storage"
    assert settings.resolved_models_dir == Path(sys.prefix) / "share/localization/models"
    with pytest.raises(ValidationError):
        Settings(STORAGE_TYPE="ftp")
    with pytest.raises(ValidationError):
        Settings(LOUDNESS_TARGET_LUFS=3)


def test_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    first = get_settings()
    monkeypatch.setenv("STT_PROVIDER", "changed")
    assert get_settings() is first
    get_settings.cache_clear()


def test_error_hierarchy_carries_stage_and_segment() -> None:
    tts = errors.TTSGenerationError(7, "voice failed")
    assert isinstance(tts, errors.ProcessingError) and isinstance(tts, errors.LocalizationError)
    assert (tts.stage, tts.segment_index, str(tts)) == ("synthesize", 7, "voice failed")
    stages = {
        errors.SeparationError("x").stage,
        errors.TranscriptionError("x").stage,
        errors.TranslationError("x").stage,
        errors.LipSyncError("x").stage,
    }
    assert stages == {"separate", "transcribe", "translate", "lipsync"}
    for cls in (
        errors.InvalidInputError,
        errors.GpuServiceError,
        errors.TaskCancelledError,
        errors.PathTraversalError,
        errors.ConfigurationError,
    ):
        assert issubclass(cls, errors.LocalizationError)
        assert not issubclass(cls, errors.ProcessingError)


def test_domain_models_round_trip_and_stay_frozen() -> None:
    line = DubLine(
        id=1,
        start=0.5,
        end=2.0,
        text="bonjour",
        speaker="S2",
        words=(Word(start=0.5, end=1.0, text=" bonjour"),),
    )
    transcript = Transcript(language="fr", language_probability=0.99, lines=(line,))
    translation = Translation(
        source_language="fr",
        target_language="en",
        lines=(
            TranslatedLine(
                id=1, start=0.5, end=2.0, source_text="bonjour", text="hello", speaker="S2"
            ),
        ),
    )
    for value in (
        transcript,
        translation,
        SeparationResult(vocals_path="v", background_path="b"),
        MediaProbe(duration=1.0, has_video=True, width=4, height=2, fps_num=30000, fps_den=1001),
    ):
        assert type(value).model_validate_json(value.model_dump_json()) == value
    assert line.speaker == "S2" and line.slot == Span(start=0.5, end=2.0)
    assert translation.lines[0].budget == pytest.approx(1.5)
    assert transcript.has_speech
    with pytest.raises(ValidationError):
        line.text = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="ends before it starts"):
        Span(start=2.0, end=1.0)
    with pytest.raises(ValidationError):
        DubLine(id=0, start=0, end=1, text="x")
    probe = MediaProbe(duration=1.0, has_video=True, width=4, height=2, fps_num=30000, fps_den=1001)
    assert float(probe.fps or 0) == pytest.approx(29.97, abs=0.01)
    assert MediaProbe(duration=1.0, has_video=False).fps is None


def test_models_install_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    assert "tiny.en, base" in capsys.readouterr().out
    assert install_models(tmp_path) == []
    assert (model_dir(tmp_path, "base") / "tokenizer.json").is_file()
    (tmp_path / "base" / "model.bin").write_bytes(b"broken")
    assert install_models(tmp_path) == ["base"]
    assert main([]) == 2
    with pytest.raises(errors.ConfigurationError, match="make setup"):
        model_dir(tmp_path, "large-v3")


def test_registry_rejects_wrong_types() -> None:
    with pytest.raises(errors.ConfigurationError, match="is not a"):
        load_provider("x", "p", {"p": Entry("pathlib:PurePosixPath")}, int)


SRT = """1
00:00:00,000 --> 00:00:02,000
Hello there.

2
00:00:02,500 --> 00:00:04,000
How are
you?
"""


def _sidecar(tmp_path: Path, text: str | bytes) -> TranslationRequest:
    folder = tmp_path / "sidecars"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "intro.es.srt"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, encoding="utf-8")
    lines = (
        DubLine(id=1, start=0.0, end=2.0, text="Hallo."),
        DubLine(id=2, start=2.5, end=4.0, text="Wie geht's?"),
    )
    transcript = Transcript(language="de", language_probability=1.0, lines=lines)
    return TranslationRequest(video_id="intro", transcript=transcript, target_language="es")


def test_sidecar_maps_cues_by_id(tmp_path: Path) -> None:
    settings = Settings(TRANSLATOR_PROVIDER="sidecar", SIDECAR_DIR=tmp_path / "sidecars")
    translator = create_translator(settings)
    assert translator.supported_targets() is None
    result = translator.translate(_sidecar(tmp_path, SRT))
    assert [(x.id, x.text, x.source_text) for x in result.lines] == [
        (1, "Hello there.", "Hallo."),
        (2, "How are you?", "Wie geht's?"),
    ]
    assert translator.shortener("en", None) is None  # a reviewer file cannot be reworded


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (SRT.replace("2\n00:00:02,500", "3\n00:00:02,500"), "missing ids 2; unknown ids 3"),
        (SRT.replace("2\n00:00:02,500", "1\n00:00:02,500"), "appears twice"),
        ("not an srt file at all\n", "not a valid SRT"),
        (b"1\n00:00:00,000 --> 00:00:01,000\n\xff\xfe bad\n", "not UTF-8"),
    ],
)
def test_sidecar_errors_are_one_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    settings = Settings(TRANSLATOR_PROVIDER="sidecar", SIDECAR_DIR=tmp_path / "sidecars")
    with pytest.raises(errors.TranslationError, match=message) as caught:
        create_translator(settings).translate(_sidecar(tmp_path, content))
    assert "\n" not in str(caught.value)


def test_sidecar_missing_file(tmp_path: Path) -> None:
    settings = Settings(TRANSLATOR_PROVIDER="sidecar", LOCALIZATION_DATA_DIR=tmp_path)
    request = _sidecar(tmp_path / "elsewhere", SRT)
    with pytest.raises(errors.TranslationError, match="no sidecar translation"):
        create_translator(settings).translate(request)
