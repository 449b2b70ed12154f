"""Names vulture cannot see being used.

Each entry is used by a framework, not by a call vulture can follow:
- pydantic: ``model_config`` and validators run by the model machinery; fields that are part of a
  serialized record (JSON artifacts, reports) even where no Python code reads them back.
- provider classes: instantiated by name through ``providers/<layer>/registry.py`` strings.
- settings fields: read from the environment and consumed by later stages.
- typer commands and IO manager hooks: called by typer and Dagster.
"""

# ruff: noqa: B018
import av

from localization_core.artifacts import (
    FaceTrack,
    LineFit,
    LocalizedVideo,
    Stems,
)
from localization_core.catalog import VideoRecord
from localization_core.domain import AudioStream, Frozen, MediaProbe, Span, Translation
from localization_core.media import _ProbeFormat
from localization_core.presets import Tuning
from localization_core.providers.diarization.pyannote import PyannoteDiarizer
from localization_core.providers.diarization.resemblyzer import ResemblyzerDiarizer
from localization_core.providers.diarization.single import SingleSpeaker
from localization_core.providers.lipsync.base import LipSyncer
from localization_core.providers.lipsync.dub_only import DubOnlyLipSyncer
from localization_core.providers.lipsync.latentsync import LatentSyncLipSyncer
from localization_core.providers.lipsync.musetalk import MuseTalkLipSyncer
from localization_core.providers.lipsync.preview import PreviewLipSyncer
from localization_core.providers.separation.ffmpeg import AutoSeparator, FfmpegSeparator
from localization_core.providers.synthesis.base import VoiceHint
from localization_core.providers.synthesis.espeak import EspeakSynthesizer
from localization_core.providers.transcription.faster_whisper import FasterWhisperTranscriber
from localization_core.providers.translation.sidecar import SidecarTranslator
from localization_core.providers.translation.whisper import WhisperTranslator
from localization_core.settings import Settings
from localization_core.timing import FitPlan
from localization_dagster import cli
from localization_dagster.io import JsonArtifactIOManager

Frozen.model_config
Settings.model_config
Span._ordered
Settings._absolute
AudioStream.codec
MediaProbe.video_codec
Translation.source_language
Translation.provider
_ProbeFormat.format_name
LipSyncer.max_window_s
VoiceHint.reference_audio
# part of every cached line's key (VoiceHint.model_dump), never read by name
VoiceHint.reference_digest
Settings.diarizer_provider
Settings.loudness_target_lufs
Stems.vocals_key
FaceTrack.sample_interval_s
LineFit.synthesized_s
LineFit.shortened
LocalizedVideo.vtt_key
VideoRecord.registered_at
FitPlan.borrowed_s
cli.demo
cli.ui
cli.remove
cli.tts_server
JsonArtifactIOManager.handle_output
JsonArtifactIOManager.load_input
# tuning fields are read through Tuning.signature (every segment cache key) and by the GPU
# engines' command lines
Tuning.guidance
Tuning.fp16
Tuning.extra_margin
Tuning.parsing_mode
# PyAV frame and encoder settings, read by libav when the frame is encoded
av.VideoFrame.pict_type
av.VideoCodecContext.framerate
# the GPU engines' install settings, read by name in providers/lipsync/registry.py
Settings.latentsync_dir
Settings.latentsync_python
Settings.latentsync_checkpoints
Settings.latentsync_version
Settings.musetalk_dir
Settings.musetalk_python
Settings.musetalk_checkpoints
Settings.musetalk_version
(
    LatentSyncLipSyncer,
    MuseTalkLipSyncer,
    PreviewLipSyncer,
    DubOnlyLipSyncer,
    FfmpegSeparator,
    AutoSeparator,
    EspeakSynthesizer,
    FasterWhisperTranscriber,
    SidecarTranslator,
    WhisperTranslator,
    SingleSpeaker,
    ResemblyzerDiarizer,
    PyannoteDiarizer,
)

# azure-core calls these on a token credential (the tests' static ARM credential)
from azure.core.credentials import SupportsTokenInfo, TokenCredential  # noqa: E402

TokenCredential.get_token
SupportsTokenInfo.get_token_info
