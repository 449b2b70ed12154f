"""Code and data versions: what makes an asset partition stale in Dagster's own eyes.

Every asset has a code version: its stage's revision (bump it when the stage's logic changes what
it produces) and the provider settings that change its output. Dagster then derives each
materialization's data version from the code version and the data versions of its inputs, so a
rerun with the same inputs leaves everything downstream fresh, and a changed input or a changed
provider makes exactly the dependent partitions stale.

``source_video`` is the root: its data version is built from what the catalog says about the
upload (content version and source language), so a re-upload or a ``--from`` correction turns
everything downstream stale.
"""

import hashlib

from localization_core.catalog import VideoRecord
from localization_core.settings import Settings

# bump an asset's revision when its stage changes what it produces for the same inputs
REVISIONS = {
    "source_video": "2",  # picture and audio durations; length and size limits
    "stems": "3",  # DeepFilterNet where there is no stereo image (provider `auto`)
    "transcript": "3",  # temperature 0 without fallback; lines within the picture; word edges
    # moved out of long silences
    "voice_refs": "2",  # each speaker's talk time, pitch and rank
    "face_track": "2",  # frames scanned upright (rotation flag honoured)
    "translation": "3",  # glossary digest and model requests recorded
    "translation_review": "2",  # reviewers' edits applied; approval under `required`
    "dub_track": "6",  # pace from the source slot, each line's own speaker, cache hits counted;
    # each speaker's own pitch and a voice apart from the others'
    "sync_plan": "3",  # the preset's tuning in every window and cache key
    "lipsync": "2",  # bisect pieces per window; frame-changing engines composited
    "localized_video": "7",  # subtitles to broadcast rules; review and fast cues in the report;
    # speakers with talk time, reference and voice
}


def _translator(settings: Settings) -> str:
    """The translator and its model (the LLM's for ``openai``, Whisper's otherwise)."""
    if settings.translator_provider == "openai":
        return f"openai:{settings.translator_model}"
    return f"{settings.translator_provider}:{settings.translation_model}"


def _diarizer(settings: Settings) -> str:
    """The diarizer and its fixed count (nothing for ``single``: the lines are as before)."""
    if settings.diarizer_provider == "single":
        return ""
    count = settings.diarizer_speakers or "auto"
    return f"|diarizer:{settings.diarizer_provider}:{count}"


def _providers(asset: str, settings: Settings) -> str:
    """The settings that change ``asset``'s output (empty for provider-free stages)."""
    shortens = (
        "|shorten:" + _translator(settings) if settings.translator_provider == "openai" else ""
    )
    chosen = {
        "stems": settings.separator_provider,
        "transcript": f"{settings.stt_provider}:{settings.stt_model}{_diarizer(settings)}",
        "translation": _translator(settings),
        "dub_track": f"{settings.tts_provider}|lufs{settings.loudness_target_lufs:g}{shortens}",
        "sync_plan": settings.lipsync_provider,
        "lipsync": settings.lipsync_provider,
    }
    return chosen.get(asset, "")


def code_version(asset: str, settings: Settings) -> str:
    """``asset``'s code version under ``settings`` (e.g. ``2|faster_whisper:base``)."""
    providers = _providers(asset, settings)
    return f"{REVISIONS[asset]}|{providers}" if providers else REVISIONS[asset]


def source_data_version(record: VideoRecord) -> str:
    """The data version of ``source_video`` for a catalog record: content and source language."""
    basis = f"{record.version}|{record.source_language or 'detect'}"
    return hashlib.sha256(basis.encode()).hexdigest()[:24]
