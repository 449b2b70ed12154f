"""`pyannote`: pyannote.audio's speaker diarization pipeline, for GPU nodes.

Not installed here: pyannote.audio needs torchaudio/torchcodec builds that match the node's
torch, which the CPU development install does not have, so it is neither in an extra nor in the
lock. Install it on the GPU node (``pip install pyannote.audio``) and fill ``PYANNOTE_MODEL_DIR``
once with the pipeline's ``config.yaml`` and the weights it names: nothing is downloaded at run
time. Without the package, choosing it fails with one line saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localization_core.domain import Span, Turn
from localization_core.errors import ConfigurationError
from localization_core.providers.diarization.base import Diarizer, by_first_appearance
from localization_core.settings import Settings, get_settings


def _import_pipeline() -> Any:
    """pyannote.audio's ``Pipeline``, or one line saying it is not installed."""
    try:
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise ConfigurationError(
            "DIARIZER_PROVIDER=pyannote needs pyannote.audio, which this install does not have"
            " (it is a GPU-node install: pip install pyannote.audio there, with PYANNOTE_MODEL_DIR;"
            " README, 'Several speakers'); use DIARIZER_PROVIDER=resemblyzer on CPU"
        ) from exc
    return Pipeline


def pipeline_config(model_dir: Path | None) -> Path:
    """The pipeline's ``config.yaml`` in ``PYANNOTE_MODEL_DIR``, or one line saying what is
    missing."""
    if model_dir is None:
        raise ConfigurationError(
            "DIARIZER_PROVIDER=pyannote needs PYANNOTE_MODEL_DIR, a folder with the pipeline's"
            " config.yaml and its weights (README, 'Several speakers')"
        )
    config = model_dir / "config.yaml"
    if not config.is_file():
        raise ConfigurationError(
            f"pyannote pipeline folder {model_dir} has no config.yaml (PYANNOTE_MODEL_DIR)"
        )
    return config


class PyannoteDiarizer(Diarizer):
    """pyannote's pipeline from a local folder, on the node's GPU when it has one."""

    name = "pyannote"

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        self.model_dir = settings.pyannote_model_dir
        self._pipeline: Any = None

    def _loaded(self) -> Any:
        """The pipeline read from ``PYANNOTE_MODEL_DIR`` (once)."""
        if self._pipeline is None:
            pipeline_class = _import_pipeline()
            config = pipeline_config(self.model_dir)  # pragma: gpu-only
            self._pipeline = self._on_device(
                pipeline_class.from_pretrained(config)
            )  # pragma: gpu-only
        return self._pipeline  # pragma: gpu-only

    @staticmethod
    def _on_device(pipeline: Any) -> Any:  # pragma: gpu-only
        import torch

        if torch.cuda.is_available():
            pipeline.to(torch.device("cuda"))
        return pipeline

    def diarize(
        self, audio: Path, speech: Sequence[Span], speakers: int | None = None
    ) -> tuple[Turn, ...]:
        """pyannote's turns, clipped to the speech the transcript found."""
        pipeline = self._loaded()
        output = pipeline(str(audio), num_speakers=speakers)  # pragma: gpu-only
        # pyannote 4 returns an object holding the annotation; 3.x the annotation itself
        annotation = getattr(output, "speaker_diarization", output)  # pragma: gpu-only
        turns = [  # pragma: gpu-only
            Turn(start=max(seg.start, span.start), end=min(seg.end, span.end), speaker=label)
            for seg, _, label in annotation.itertracks(yield_label=True)
            for span in speech
            if min(seg.end, span.end) > max(seg.start, span.start)
        ]
        return by_first_appearance(turns)  # pragma: gpu-only
