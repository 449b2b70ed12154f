"""Demucs separation (htdemucs, two stems) for GPU nodes: vocals, and the mix without them.

Hybrid Transformer Demucs (Rouard et al., 2023) is a music source separator that splits a mix
into drums, bass, other and vocals; two-stem use keeps the vocals and calls the rest background.
The weights are never downloaded at run time: ``DEMUCS_MODEL_DIR`` is a folder laid out as the
demucs loader reads it (a bag ``htdemucs.yaml`` naming the signatures, and one
``<signature>-<checksum>.th`` per signature), filled once on the node (README, "Demucs").
torch and demucs are imported here, only when this provider runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from localization_core import media
from localization_core.audio import Samples, read_audio, write_audio
from localization_core.domain import SeparationResult
from localization_core.errors import ConfigurationError, InvalidInputError, SeparationError
from localization_core.providers.separation.base import AudioSeparator
from localization_core.settings import Settings, get_settings

OUTPUT_RATE = 48000
# demucs' own default overlap between its 7.8 s chunks; no random shifts, so that the same input
# always gives the same stems
OVERLAP = 0.25


def check_weights(model_dir: Path | None, model: str) -> Path:
    """The weights folder, or one line naming what is missing: the setting, the folder, or the
    model's files in it."""
    if model_dir is None:
        raise ConfigurationError(
            "SEPARATOR_PROVIDER=demucs needs DEMUCS_MODEL_DIR, the folder holding "
            f"{model}.yaml and its .th weights (README, 'Demucs')"
        )
    if not model_dir.is_dir():
        raise ConfigurationError(
            f"demucs weights folder {model_dir} does not exist (DEMUCS_MODEL_DIR); "
            f"put {model}.yaml and its .th weights there (README, 'Demucs')"
        )
    names = {p.stem.split("-", 1)[0] for p in model_dir.glob("*.th")}
    if not (model_dir / f"{model}.yaml").is_file() and model not in names:
        raise ConfigurationError(
            f"demucs weights folder {model_dir} has no {model}.yaml nor {model}.th "
            "(DEMUCS_MODEL_DIR; README, 'Demucs')"
        )
    return model_dir


def _import_demucs() -> tuple[Any, Any]:
    """torch and ``demucs.api``, or one line saying how to install them."""
    try:
        import torch
        from demucs import api
    except ImportError as exc:
        raise ConfigurationError(
            f"SEPARATOR_PROVIDER=demucs needs torch and demucs ({exc.name} is missing): "
            "pip install '.[demucs]'"
        ) from exc
    return torch, api


class DemucsSeparator(AudioSeparator):
    """Speech/background separation with htdemucs, on the node's GPU when it has one."""

    name = "demucs"

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        self.model = settings.demucs_model
        self.model_dir = settings.demucs_model_dir
        self.device = settings.demucs_device
        self._separator: Any = None

    def _loaded(self) -> Any:
        """The demucs ``Separator`` with the model read from the weights folder (once)."""
        if self._separator is None:
            model_dir = check_weights(self.model_dir, self.model)
            torch, api = _import_demucs()
            device = self.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            try:
                self._separator = api.Separator(
                    model=self.model, repo=model_dir, device=device, shifts=0, overlap=OVERLAP
                )
            except Exception as exc:  # the loader's errors: bad checksum, bad bag, bad pickle
                raise SeparationError(
                    f"demucs could not load {self.model} from {model_dir}: {exc}"
                ) from exc
        return self._separator

    def split(self, samples: Samples, rate: int) -> tuple[Samples, Samples]:
        """Vocals (mono) and background (stereo) of a stereo mix at the model's rate."""
        torch, _ = _import_demucs()
        separator = self._loaded()
        wav = torch.from_numpy(np.ascontiguousarray(samples.T))
        with torch.inference_mode():
            mix, stems = separator.separate_tensor(wav, rate)
        if "vocals" not in stems:
            raise SeparationError(f"demucs model {self.model} has no vocals stem")
        vocals = stems["vocals"].cpu().numpy().T
        background = mix.cpu().numpy().T - vocals
        return (
            np.asarray(vocals.mean(axis=1), dtype=np.float32),
            np.asarray(background, dtype=np.float32),
        )

    def separate(self, media_path: Path, out_dir: Path) -> SeparationResult:
        """Write ``vocals.wav`` (mono) and ``background.wav`` (stereo), both at 48 kHz."""
        out_dir.mkdir(parents=True, exist_ok=True)
        if not media.probe(media_path).has_audio:
            raise InvalidInputError(f"{media_path.name}: no audio stream to separate")
        separator = self._loaded()
        with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
            work = Path(scratch)
            original = media.resample_audio(
                media_path, work / "original.wav", rate=separator.samplerate, channels=2
            )
            samples, rate = read_audio(original)
            vocals, background = self.split(samples, rate)
            for name, stem in (("vocals", vocals), ("background", background)):
                raw = write_audio(work / f"{name}.wav", stem, rate)
                media.resample_audio(
                    raw, out_dir / f"{name}.wav", rate=OUTPUT_RATE, channels=stem.ndim
                )
        return SeparationResult(
            vocals_path=str(out_dir / "vocals.wav"),
            background_path=str(out_dir / "background.wav"),
            degraded=False,
            method="demucs",
            note=f"Demucs {self.model} vocals; background = mix minus those vocals",
        )
