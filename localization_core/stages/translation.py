"""`translation`: one translated line per dub line; refuses languages the translator lacks."""

from __future__ import annotations

from localization_core.artifacts import Stems
from localization_core.cache import TextStore
from localization_core.domain import Transcript, Translation
from localization_core.errors import InvalidInputError, TranslationError
from localization_core.glossary import load_glossary
from localization_core.providers.translation.base import TranslationRequest, Translator
from localization_core.workspace import Workspace

TRANSLATION_CACHE = "cache/translation"


def text_cache(workspace: Workspace) -> TextStore:
    """The store of a translator's answers (translations and shorter wordings)."""
    return TextStore(workspace.storage, TRANSLATION_CACHE)


def check_target(translator: Translator, target: str, source: str | None) -> None:
    """Refuse a target equal to the source or one the translator cannot produce."""
    if source is not None and target == source:
        raise InvalidInputError(f"the video is already in {target!r}; choose another --to")
    supported = translator.supported_targets()
    if supported is not None and target not in supported:
        choices = ", ".join(sorted(supported))
        raise InvalidInputError(
            f"translator {translator.name!r} cannot produce {target!r} (it produces: {choices})"
        )


def translate(
    workspace: Workspace,
    *,
    video_id: str,
    transcript: Transcript,
    stems: Stems,
    target: str,
    translator: Translator,
) -> Translation:
    """Translate every dub line; a video without speech yields an empty translation."""
    if not transcript.has_speech:
        return Translation(
            source_language=transcript.language, target_language=target, provider=translator.name
        )
    try:
        check_target(translator, target, transcript.language)
    except InvalidInputError as exc:
        raise TranslationError(str(exc)) from exc
    request = TranslationRequest(
        video_id=video_id,
        transcript=transcript,
        target_language=target,
        speech_audio=str(workspace.local(stems.speech_key)),
        glossary=load_glossary(workspace.storage, video_id, target),
        cache=text_cache(workspace),
    )
    translation = translator.translate(request)
    if [line.id for line in translation.lines] != [line.id for line in transcript.lines]:
        raise TranslationError("the translator did not return exactly one line per dub line")
    glossary = request.glossary
    return translation.model_copy(update={"glossary": glossary.digest() if glossary.terms else ""})
