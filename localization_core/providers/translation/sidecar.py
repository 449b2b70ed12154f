"""Translations supplied by a reviewer as an SRT file whose cue numbers are dub-line ids.

The file for video ``V`` into language ``L`` is ``SIDECAR_DIR/V.L.srt``. Timing in the file is
ignored (slots come from the transcript); every dub line must have exactly one cue.
"""

from __future__ import annotations

from pathlib import Path

import srt

from localization_core.domain import TranslatedLine, Translation
from localization_core.errors import TranslationError
from localization_core.providers.translation.base import TranslationRequest, Translator
from localization_core.settings import Settings


def _ids(values: set[int]) -> str:
    shown = sorted(values)[:10]
    return ", ".join(map(str, shown)) + (" ..." if len(values) > len(shown) else "")


class SidecarTranslator(Translator):
    """Reads reviewer-provided translations; any target language."""

    name = "sidecar"

    def __init__(self, settings: Settings) -> None:
        self.directory = settings.sidecar_dir or settings.data_dir / "sidecars"

    def path_for(self, video_id: str, language: str) -> Path:
        """Where the sidecar file of one localization is expected."""
        return self.directory / f"{video_id}.{language}.srt"

    def _cues(self, path: Path) -> dict[int, str]:
        if not path.is_file():
            raise TranslationError(f"no sidecar translation at {path}")
        try:
            text = path.read_text(encoding="utf-8-sig")
            cues = list(srt.parse(text))
        except UnicodeDecodeError as exc:
            raise TranslationError(f"{path.name}: not UTF-8 text") from exc
        except srt.SRTParseError as exc:
            raise TranslationError(f"{path.name}: not a valid SRT file ({exc})") from exc
        found: dict[int, str] = {}
        for cue in cues:
            if cue.index in found:
                raise TranslationError(f"{path.name}: dub line id {cue.index} appears twice")
            found[cue.index] = " ".join(cue.content.split())
        return found

    def translate(self, request: TranslationRequest) -> Translation:
        """Match the file's cues to the transcript's dub lines by id."""
        path = self.path_for(request.video_id, request.target_language)
        cues = self._cues(path)
        expected = {line.id for line in request.transcript.lines}
        missing, unknown = expected - cues.keys(), cues.keys() - expected
        if missing or unknown:
            parts = [f"missing ids {_ids(missing)}" if missing else ""]
            parts.append(f"unknown ids {_ids(set(unknown))}" if unknown else "")
            raise TranslationError(f"{path.name}: " + "; ".join(p for p in parts if p))
        lines = tuple(
            TranslatedLine(
                id=line.id,
                start=line.start,
                end=line.end,
                source_text=line.text,
                text=cues[line.id],
                speaker=line.speaker,
            )
            for line in request.transcript.lines
        )
        return Translation(
            source_language=request.transcript.language,
            target_language=request.target_language,
            lines=lines,
            provider="sidecar",
        )
