"""The demucs separator through demucs' own loader and ``apply_model``, on CPU.

No real htdemucs weights are reachable here, so each test saves a tiny randomly initialised
HTDemucs exactly as the real weights are laid out (a bag ``htdemucs.yaml`` naming a signature,
and ``<signature>-<checksum>.th`` holding the pickled class, its arguments and a half-precision
state): the provider then reads it through the same path as the real model. The stems of a
random model are not a separation; these tests check the path, not the quality (the harness
measures quality where real weights exist: README, "Demucs").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from localization_core.audio import read_audio, write_audio
from localization_core.errors import ConfigurationError, SeparationError
from localization_core.providers.separation.demucs import DemucsSeparator
from localization_core.providers.separation.registry import create_separator
from localization_core.settings import Settings
from tests import separation_harness as harness

SIGNATURE = "0badc0de"


def save_tiny_htdemucs(folder: Path, seed: int) -> Path:
    """A randomly initialised HTDemucs (4 sources, 8 channels, 1 transformer layer) saved as
    the demucs loader reads a bag of models."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state, save_with_checksum

    torch.manual_seed(seed)
    model = HTDemucs(
        sources=["drums", "bass", "other", "vocals"],
        channels=8,
        depth=4,
        t_layers=1,
        t_heads=2,
        segment=4,
    )
    args, kwargs = model._init_args_kwargs
    package = {"klass": HTDemucs, "args": args, "kwargs": kwargs}
    package["state"] = get_state(model, None, half=True)
    folder.mkdir(parents=True, exist_ok=True)
    save_with_checksum(package, folder / f"{SIGNATURE}.th")
    (folder / "htdemucs.yaml").write_text(yaml.safe_dump({"models": [SIGNATURE]}))
    return folder


def demucs_settings(model_dir: Path | None) -> Settings:
    return Settings(SEPARATOR_PROVIDER="demucs", DEMUCS_MODEL_DIR=model_dir, DEMUCS_DEVICE="cpu")


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, harness.Signal]:
    """Six seconds of the JFK recording under a music bed at -6 dB, dual-mono, 48 kHz."""
    speech = harness.load_speech("speech_en_jfk.flac")[: 6 * harness.RATE]
    mixed, _ = harness.build_mix(speech, "music", -6.0)
    path = tmp_path_factory.mktemp("mix") / "mix.wav"
    return write_audio(path, np.stack([mixed, mixed], axis=1), harness.RATE), mixed


def stems(folder: Path, mix_path: Path, out: Path) -> tuple[harness.Signal, harness.Signal]:
    result = create_separator(demucs_settings(folder)).separate(mix_path, out)
    assert result.method == "demucs" and not result.degraded, result
    vocals, vocals_rate = read_audio(Path(result.vocals_path))
    background, background_rate = read_audio(Path(result.background_path))
    assert (vocals_rate, background_rate) == (48000, 48000)
    assert vocals.shape[1] == 1 and background.shape[1] == 2
    return vocals[:, 0], background


def test_the_model_in_the_weights_folder_separates_and_nothing_is_lost(
    mix: tuple[Path, harness.Signal], tmp_path: Path
) -> None:
    mix_path, mixed = mix
    weights = save_tiny_htdemucs(tmp_path / "weights", seed=0)
    vocals, background = stems(weights, mix_path, tmp_path / "a")
    assert abs(len(vocals) - len(mixed)) <= 48, (len(vocals), len(mixed))
    n = min(len(vocals), len(mixed))
    assert harness.rms(vocals[:n]) > 1e-4, "the vocals stem is silent"
    # the background is the mix less the vocals: the two stems add back up to the mix
    rebuilt = vocals[:n] + background[:n].mean(axis=1)
    assert harness.rms(rebuilt - mixed[:n]) < 0.02 * harness.rms(mixed[:n])
    # and the vocals are the model's, not a copy of the mix
    assert abs(float(np.corrcoef(vocals[:n], mixed[:n])[0, 1])) < 0.99

    again, _ = stems(weights, mix_path, tmp_path / "b")
    assert np.array_equal(vocals, again), "the same input gave different stems"
    other = save_tiny_htdemucs(tmp_path / "other-weights", seed=1)
    different, _ = stems(other, mix_path, tmp_path / "c")
    assert not np.allclose(vocals, different), "the stems do not come from the weights given"


def test_missing_weights_are_one_line_naming_the_folder(
    mix: tuple[Path, harness.Signal], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(ConfigurationError) as absent:
        create_separator(demucs_settings(missing)).separate(mix[0], tmp_path / "out")
    assert str(missing) in str(absent.value) and "DEMUCS_MODEL_DIR" in str(absent.value)

    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError) as empty:
        create_separator(demucs_settings(tmp_path / "empty")).separate(mix[0], tmp_path / "out")
    assert "htdemucs.yaml" in str(empty.value) and str(tmp_path / "empty") in str(empty.value)

    with pytest.raises(ConfigurationError) as unset:
        DemucsSeparator(demucs_settings(None)).separate(mix[0], tmp_path / "out")
    assert "DEMUCS_MODEL_DIR" in str(unset.value)
    for error in (absent.value, empty.value, unset.value):
        assert "\n" not in str(error), error


def test_damaged_weights_are_a_clear_separation_error(
    mix: tuple[Path, harness.Signal], tmp_path: Path
) -> None:
    weights = save_tiny_htdemucs(tmp_path / "weights", seed=0)
    checkpoint = next(weights.glob("*.th"))
    data = bytearray(checkpoint.read_bytes())
    data[-100] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(SeparationError, match=r"demucs could not load htdemucs .*checksum"):
        create_separator(demucs_settings(weights)).separate(mix[0], tmp_path / "out")


def test_without_torch_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, mix: tuple[Path, harness.Signal], tmp_path: Path
) -> None:
    weights = save_tiny_htdemucs(tmp_path / "weights", seed=0)
    monkeypatch.setitem(__import__("sys").modules, "demucs", None)
    with pytest.raises(ConfigurationError, match=r"needs torch and demucs .*\[demucs\]"):
        create_separator(demucs_settings(weights)).separate(mix[0], tmp_path / "out")
