"""`localize demo` (what `make demo` runs) on a fresh data dir: a video a user can play."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from localization_core.providers.transcription.base import Transcriber
from tests.conftest import REPO, project_env
from tests.e2e.conftest import Delivery, duration_of, words

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_demo_localizes_the_generated_sample_to_english(
    tmp_path: Path, tiny_en: Transcriber, base_model: Transcriber
) -> None:
    data = tmp_path / "data"
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "localize"), "demo"],
        env=project_env(data, COLUMNS="120"), capture_output=True, text=True, timeout=540,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = re.search(r"^output: (\S+\.mp4)$", proc.stdout, flags=re.MULTILINE)
    assert shown is not None, proc.stdout
    assert "demo -> en" in proc.stdout and "dub lines" in proc.stdout  # the summary
    delivery = Delivery(Path(shown.group(1)))
    sample = data / "demo" / "demo.mp4"

    assert delivery.decode_errors() == ""
    assert abs(delivery.duration() - duration_of(sample)) <= 1 / 25
    assert delivery.srt.is_file() and (delivery.video.parent / "report.json").is_file()
    report = delivery.report
    assert report["source"]["language"] == "it"
    assert report["sync"]["frames_sent_to_engine"] < report["sync"]["frames_total"]

    dub = delivery.audio(0, tmp_path / "dub.wav")
    assert base_model.detect_language(dub)[0] == "en"
    heard = words(" ".join(line.text for line in tiny_en.transcribe(dub).lines))
    translation = words(delivery.subtitle_text())
    assert len(heard & translation) >= len(heard) / 2, (heard, translation)
    assert len(heard & translation) >= len(translation) / 2, (heard, translation)
    print(f"heard {len(heard & translation)}/{len(heard)} words of the translation")

    again = subprocess.run(
        [str(REPO / ".venv" / "bin" / "localize"), "demo"],
        env=project_env(data, COLUMNS="120"), capture_output=True, text=True, timeout=540,
        check=False,
    )  # fmt: skip
    assert again.returncode == 0 and "generating" not in again.stdout, "the sample is reused"
    assert not re.search(r"^run [0-9a-f-]{36}$", again.stdout, flags=re.MULTILINE), "no rerun"
