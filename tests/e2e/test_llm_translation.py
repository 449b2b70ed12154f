"""Dubbing into languages other than English through the `openai` translator on the packaged
CPU model: `localize` starts and stops llama.cpp's server itself, or uses a running endpoint;
Whisper hears the dub in the target language, every subtitle cue has text, and a rerun of the
translation asks the model nothing (counted in the server's own request log)."""

from __future__ import annotations

import re
from pathlib import Path

import pysubs2
import pytest

from localization_core.providers.transcription.base import Transcriber
from tests.conftest import ffmpeg, media_file
from tests.e2e.conftest import Delivery
from tests.kill_harness import localize

pytestmark = pytest.mark.slow
CHAT_REQUEST = "POST /v1/chat/completions"


def delivered(stdout: str) -> Delivery:
    shown = re.search(r"^output: (\S+\.mp4)$", stdout, flags=re.MULTILINE)
    assert shown is not None, stdout
    return Delivery(Path(shown.group(1)))


def check_dub(delivery: Delivery, language: str, base_model: Transcriber, tmp: Path) -> None:
    """The dub is heard in ``language``, and every cue of the subtitles has text."""
    assert delivery.decode_errors() == ""
    heard, probability = base_model.detect_language(delivery.audio(0, tmp / "dub.wav"))
    assert heard == language, f"Whisper heard {heard} ({probability:.2f})"
    cues = pysubs2.load(str(delivery.srt))
    assert cues and all(cue.plaintext.strip() for cue in cues)
    report = delivery.report
    assert report["translation"]["provider"].startswith("openai:")
    assert report["translation"]["lines"] == report["isochrony"]["totals"]["lines"] > 0


@pytest.fixture()
def kennedy_clip(tmp_path: Path) -> Path:
    """11 s: the 512x512 face (looped) speaking JFK's "ask not" sentence, a line long enough
    for Whisper to tell Spanish from Italian in an espeak-ng voice."""
    path = tmp_path / "kennedy.mp4"
    ffmpeg(
        "-stream_loop", "1", "-i", str(media_file("talking_head_512_25fps.mp4")),
        "-i", str(media_file("speech_en_jfk.flac")),
        "-map", "0:v:0", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
        "-c:a", "aac", "-shortest", str(path),
    )  # fmt: skip
    return path


@pytest.mark.timeout(900)
def test_localize_serves_the_model_itself_for_spanish_and_a_rerun_asks_it_nothing(
    tmp_path: Path, base_model: Transcriber, kennedy_clip: Path
) -> None:
    data = tmp_path / "data"
    clip = kennedy_clip
    first = localize(data, "run", str(clip), "--to", "es", TRANSLATOR_PROVIDER="openai")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "starting the local LLM server" in first.stdout
    assert not (data / "llm" / "server.json").exists(), "the server outlived its command"
    server_log = data / "llm" / "server.log"
    asked = server_log.read_text().count(CHAT_REQUEST)
    assert asked >= 1
    delivery = delivered(first.stdout)
    check_dub(delivery, "es", base_model, tmp_path)

    again = localize(
        data, "run", "kennedy", "--to", "es", "--force", "translation",
        TRANSLATOR_PROVIDER="openai",
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "starting the local LLM server" in again.stdout, "the forced translation ran"
    assert server_log.read_text().count(CHAT_REQUEST) == 0, "the rerun asked the model"
    assert delivered(again.stdout).subtitle_text() == delivery.subtitle_text()
    print(f"first run: {asked} model requests; forced rerun: 0")


@pytest.mark.timeout(600)
def test_a_running_endpoint_dubs_a_second_clip_into_german(  # a man, 3 s, variable frame rate
    tmp_path: Path, base_model: Transcriber, llm_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    clip = media_file("talking_head_vfr.mp4")
    proc = localize(data, "run", str(clip), "--to", "de", **llm_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "starting the local LLM server" not in proc.stdout
    check_dub(delivered(proc.stdout), "de", base_model, tmp_path)


@pytest.mark.timeout(300)
def test_localize_llm_serves_until_stopped_and_leaves_nothing_behind(tmp_path: Path) -> None:
    import subprocess
    import time

    from localization_core.llm_server import healthy
    from tests.conftest import REPO, project_env, stop_process_group

    data = tmp_path / "data"
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "localize"), "llm"],
        env=project_env(data, TRANSLATOR_PROVIDER="openai"), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    record = data / "llm" / "server.json"
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("serving qwen2.5-coder-1.5b-instruct at http://127.0.0.1:"), line
        base_url = line.split(" at ")[1].split()[0]
        assert healthy(base_url) and base_url in record.read_text()
    finally:
        server.terminate()  # what Ctrl-C or a service manager sends
        started = time.monotonic()
        server.wait(timeout=30)
        stopped_in = time.monotonic() - started
        stop_process_group(server)  # type: ignore[arg-type]  # text mode, same process group
    assert server.returncode == 0 and not record.exists() and not healthy(base_url)
    print(f"localize llm stopped in {stopped_in:.1f} s")
