"""The `openai` translator on the real packaged model (llama.cpp's server, one per session): a
glossary term carried into the translation or flagged. Expectations come from what the model
answered, never from a fixed guess of its words. (Shortening on the real model is tested where
the dub uses it, in tests/dagster/test_dub_quality_gate.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from localization_core.domain import DubLine, Transcript
from localization_core.glossary import Glossary, Term
from localization_core.providers.translation.base import TranslationRequest
from localization_core.providers.translation.openai_compat import OpenAITranslator
from localization_core.settings import Settings

pytestmark = pytest.mark.slow


def real_translator(llm_env: dict[str, str], tmp_path: Path) -> OpenAITranslator:
    return OpenAITranslator(Settings(**llm_env, LOCALIZATION_DATA_DIR=tmp_path))  # type: ignore[arg-type]


def test_a_glossary_term_is_carried_or_the_line_is_flagged(
    llm_env: dict[str, str], tmp_path: Path
) -> None:
    lines = (
        DubLine(id=1, start=0.0, end=2.5, text="Welcome back to the workshop."),
        DubLine(id=2, start=3.0, end=6.0, text="Today we build a bird house out of pine."),
    )
    glossary = Glossary(terms=(Term(source="bird house", target="pajarera", language="es"),))
    translator = real_translator(llm_env, tmp_path)
    result = translator.translate(
        TranslationRequest(
            video_id="workshop",
            transcript=Transcript(language="en", language_probability=1.0, lines=lines),
            target_language="es",
            glossary=glossary,
        )
    )
    second = result.lines[1]
    carried = "pajarera" in second.text.lower()
    assert second.flags == (() if carried else ("glossary: 'bird house' should be 'pajarera'",))
    assert result.lines[0].flags == () and all(line.text for line in result.lines)
    print(f"{translator.requests} requests: {[line.text for line in result.lines]}")
