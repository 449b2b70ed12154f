"""Heavy libraries load only inside the provider that needs them (fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import MODELS

HEAVY = (
    "faster_whisper",
    "ctranslate2",
    "onnxruntime",
    "cv2",
    "torch",
    "azure",
    "resemblyzer",
    "librosa",
)

_PROBE = """
import json, sys
HEAVY = {heavy!r}
def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)
{body}
print(json.dumps(loaded()))
"""


def heavy_after(body: str, env: dict[str, str] | None = None) -> list[str]:
    code = _PROBE.format(heavy=HEAVY, body=body)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"LOCALIZATION_MODELS_DIR": str(MODELS), "PATH": "/usr/bin:/bin", **(env or {})},
    )
    result: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_definitions_import_loads_no_heavy_library() -> None:
    assert heavy_after("import localization_dagster.definitions") == []


@pytest.mark.parametrize(
    ("factory", "env", "expected"),
    [
        ("separation.registry:create_separator", {}, []),
        # torch comes with the first separation, not with the separator
        ("separation.registry:create_separator", {"SEPARATOR_PROVIDER": "demucs"}, []),
        (
            "transcription.registry:create_transcriber",
            {"STT_MODEL": "tiny.en"},
            ["ctranslate2", "faster_whisper"],
        ),
        ("translation.registry:create_translator", {}, ["ctranslate2", "faster_whisper"]),
        ("translation.registry:create_translator", {"TRANSLATOR_PROVIDER": "sidecar"}, []),
        ("synthesis.registry:create_synthesizer", {}, []),
        ("lipsync.registry:create_lipsyncer", {}, []),
        # the speaker encoder comes with the first diarization, not with the diarizer
        ("diarization.registry:create_diarizer", {"DIARIZER_PROVIDER": "resemblyzer"}, []),
        ("diarization.registry:create_diarizer", {"DIARIZER_PROVIDER": "pyannote"}, []),
    ],
)
def test_each_provider_loads_only_its_own_heavy_modules(
    factory: str, env: dict[str, str], expected: list[str]
) -> None:
    module, function = factory.split(":")
    body = (
        f"from localization_core.providers.{module} import {function}\n"
        "before = loaded()\n"
        f"{function}()\n"
        "assert before == [], before\n"
    )
    assert heavy_after(body, env) == expected


def test_azure_storage_loads_only_azure() -> None:
    body = (
        "from localization_core.storage import create_storage\n"
        "assert loaded() == []\n"
        "create_storage()\n"
    )
    env = {
        "STORAGE_TYPE": "azure_blob",
        "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=a;"
        "AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/a;",
    }
    assert heavy_after(body, env) == ["azure"]
