"""`stems`: vocals/background separation plus the 16 kHz speech track models read."""

from __future__ import annotations

from pathlib import Path

from localization_core import media
from localization_core.artifacts import SourceVideo, Stems
from localization_core.providers.separation.base import AudioSeparator
from localization_core.workspace import Workspace


def separate(workspace: Workspace, source: SourceVideo, separator: AudioSeparator) -> Stems:
    """Store ``vocals.wav``, ``background.wav`` and ``speech.wav`` (16 kHz mono vocals)."""
    out = workspace.scratch_dir("stems", source.video_id)
    result = separator.separate(workspace.local(source.key), out)
    speech = media.extract_speech_audio(Path(result.vocals_path), out / "speech.wav")
    prefix = f"videos/{source.video_id}/stems"
    keys = {}
    for name, path in (
        ("vocals", Path(result.vocals_path)),
        ("background", Path(result.background_path)),
        ("speech", speech),
    ):
        keys[name] = f"{prefix}/{name}.wav"
        workspace.put(keys[name], path)
    return Stems(
        vocals_key=keys["vocals"],
        background_key=keys["background"],
        speech_key=keys["speech"],
        separation=result.model_copy(
            update={"vocals_path": keys["vocals"], "background_path": keys["background"]}
        ),
    )
