"""The `openai` translator against a loopback server that checks each request's shape: retries,
malformed and incomplete replies, cut replies, timeouts, reasoning-only replies, the glossary and
the cache, each ending in the right translation or one clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from localization_core.cache import TextStore
from localization_core.domain import DubLine, Transcript, TranslatedLine
from localization_core.errors import GpuServiceError, TranslationError
from localization_core.glossary import Glossary, Term
from localization_core.providers.translation.base import TranslationRequest
from localization_core.providers.translation.budget import char_budget
from localization_core.providers.translation.openai_compat import OpenAITranslator
from localization_core.settings import Settings
from localization_core.storage.local import LocalStorage
from tests.llm_contract import ContractServer, Reply, asked_lines, serve_contract, translated

SOURCE = (
    "Welcome to the workshop.",
    "Today we build a bird house out of pine.",
    "First, measure the boards twice.",
    "Then cut them along the pencil line.",
)


@pytest.fixture(scope="module")
def contract() -> Iterator[ContractServer]:
    yield from serve_contract()


@pytest.fixture()
def server(contract: ContractServer) -> ContractServer:
    contract.reset()
    return contract


def translator(server: ContractServer, tmp_path: Path, **settings: object) -> OpenAITranslator:
    values: dict[str, object] = {
        "TRANSLATOR_PROVIDER": "openai",
        "TRANSLATOR_BASE_URL": server.base_url,
        "TRANSLATOR_MODEL": server.model,
        "TRANSLATOR_RETRY_S": 5,
        "LOCALIZATION_DATA_DIR": tmp_path,
        **settings,
    }
    return OpenAITranslator(Settings(**values))  # type: ignore[arg-type]


def request(glossary: Glossary | None = None, cache: TextStore | None = None) -> TranslationRequest:
    lines = tuple(
        DubLine(id=index + 1, start=2.0 * index, end=2.0 * index + 1.8, text=text)
        for index, text in enumerate(SOURCE)
    )
    return TranslationRequest(
        video_id="workshop",
        transcript=Transcript(language="en", language_probability=0.99, lines=lines),
        target_language="es",
        glossary=glossary or Glossary(),
        cache=cache,
    )


def test_a_batch_is_asked_with_context_budgets_and_a_schema(
    server: ContractServer, tmp_path: Path
) -> None:
    result = translator(server, tmp_path, TRANSLATOR_BATCH_SIZE=2).translate(request())
    assert [line.text for line in result.lines] == [f"es: {text}" for text in SOURCE]
    assert not server.violations and len(server.requests) == 2
    second = json.loads(server.requests[1]["messages"][1]["content"])
    assert second["context_before"] == list(SOURCE[:2]) and second["context_after"] == []
    assert [line["max_chars"] for line in second["lines"]] == [char_budget(1.8, "es")] * 2
    assert "from English (en) into Spanish (es)" in server.requests[0]["messages"][0]["content"]
    assert result.provider == f"openai:{server.model}" and result.model_requests == 2


def test_a_llama_cpp_python_server_gets_the_schema_in_its_own_form(
    server: ContractServer, tmp_path: Path
) -> None:
    translator(server, tmp_path, TRANSLATOR_SCHEMA_STYLE="json_object").translate(request())
    form = server.requests[0]["response_format"]
    assert form["type"] == "json_object" and form["schema"]["required"] == ["lines"]
    assert not server.violations


def test_a_latin_line_with_a_stray_ideograph_is_asked_again(
    server: ContractServer, tmp_path: Path
) -> None:
    server.reset(lambda r: translated(r, prefix="Erst测量"))
    result = translator(server, tmp_path).translate(request())
    assert len(server.requests) == 2 and "is not in es" in str(server.requests[1]["messages"])
    assert result.lines[0].text == f"es: {SOURCE[0]}"


def test_503_is_retried_with_backoff_then_succeeds(server: ContractServer, tmp_path: Path) -> None:
    server.reset(Reply(status=503), Reply(status=503))
    result = translator(server, tmp_path).translate(request())
    assert result.lines[0].text == f"es: {SOURCE[0]}"
    assert len(server.requests) == 3 and not server.violations


def test_a_service_down_for_the_whole_retry_time_is_a_transient_error(
    server: ContractServer, tmp_path: Path
) -> None:
    server.reset(*[Reply(status=503)] * 50)
    with pytest.raises(GpuServiceError, match="unavailable after 2 s of retries"):
        translator(server, tmp_path, TRANSLATOR_RETRY_S=2).translate(request())


def test_a_timeout_is_retried_then_succeeds(server: ContractServer, tmp_path: Path) -> None:
    server.reset(Reply(delay_s=1.5, content="late"))
    result = translator(server, tmp_path, TRANSLATOR_TIMEOUT_S=0.5).translate(request())
    assert result.lines[3].text == f"es: {SOURCE[3]}" and len(server.requests) == 2


def test_malformed_json_is_corrected_by_asking_again(
    server: ContractServer, tmp_path: Path
) -> None:
    server.reset(Reply(content="Sure! Here is the translation: ..."))
    result = translator(server, tmp_path).translate(request())
    assert result.lines[1].text == f"es: {SOURCE[1]}"
    correction = server.requests[1]["messages"][-1]["content"]
    assert "not the requested JSON" in correction


def test_malformed_json_every_time_is_one_translation_error(
    server: ContractServer, tmp_path: Path
) -> None:
    server.reset(*[Reply(content="{not json")] * 3)
    with pytest.raises(TranslationError, match=r"line 1: the reply is not the requested JSON"):
        translator(server, tmp_path).translate(request())
    assert len(server.requests) == 3


def test_a_reply_missing_a_line_names_that_line(server: ContractServer, tmp_path: Path) -> None:
    server.reset(*[lambda r: translated(r, skip=3)] * 3)
    with pytest.raises(TranslationError, match="line 3: the reply has no translation of line 3"):
        translator(server, tmp_path).translate(request())


def test_a_reply_in_another_script_is_refused(server: ContractServer, tmp_path: Path) -> None:
    server.reset(*[lambda r: translated(r, prefix="Привет")] * 3)
    with pytest.raises(TranslationError, match=r"line 1: .* is not in ru"):
        translator(server, tmp_path).translate(
            TranslationRequest(video_id="w", transcript=request().transcript, target_language="ru")
        )


def test_a_reply_cut_at_the_token_limit_is_asked_again_in_halves(
    server: ContractServer, tmp_path: Path
) -> None:
    server.reset(Reply(content='{"lines": [{"id": 1, "te', finish_reason="length"))
    result = translator(server, tmp_path).translate(request())
    assert [len(asked_lines(r)) for r in server.requests] == [4, 2, 2]
    assert [line.text for line in result.lines] == [f"es: {text}" for text in SOURCE]


def test_one_line_cut_at_the_token_limit_is_a_translation_error(
    server: ContractServer, tmp_path: Path
) -> None:
    server.reset(*[Reply(content="{", finish_reason="length")] * 10)
    with pytest.raises(TranslationError, match="line 1: the model's reply was cut"):
        translator(server, tmp_path).translate(request())


def test_empty_content_with_reasoning_is_an_error_not_an_empty_translation(
    server: ContractServer, tmp_path: Path
) -> None:
    server.reset(*[Reply(content="", reasoning="Let me think about Spanish...")] * 3)
    with pytest.raises(TranslationError, match=r"empty .*only reasoning"):
        translator(server, tmp_path).translate(request())


def test_a_refused_request_is_permanent(server: ContractServer, tmp_path: Path) -> None:
    server.reset(Reply(status=401, content="bad key"))
    with pytest.raises(TranslationError, match="HTTP 401"):
        translator(server, tmp_path).translate(request())
    assert len(server.requests) == 1


GLOSSARY = Glossary(terms=(Term(source="bird house", target="pajarera", language="es"),))


def test_a_missed_glossary_term_is_asked_once_more(server: ContractServer, tmp_path: Path) -> None:
    def with_term(r: dict[str, object]) -> Reply:
        return Reply(
            content=json.dumps({"lines": [{"id": 2, "text": "Hoy hacemos una pajarera."}]})
        )

    server.reset(translated, with_term)
    result = translator(server, tmp_path).translate(request(GLOSSARY))
    assert result.lines[1].text == "Hoy hacemos una pajarera." and not result.lines[1].flags
    first = json.loads(server.requests[0]["messages"][1]["content"])
    assert first["glossary"] == [{"source": "bird house", "target": "pajarera"}]
    assert "'bird house' must be 'pajarera'" in server.requests[1]["messages"][1]["content"]


def test_a_glossary_term_missed_twice_is_flagged(server: ContractServer, tmp_path: Path) -> None:
    result = translator(server, tmp_path).translate(request(GLOSSARY))
    assert result.lines[1].flags == ("glossary: 'bird house' should be 'pajarera'",)
    assert [line.flags for line in result.lines if line.id != 2] == [(), (), ()]


def test_a_second_translation_asks_the_model_nothing(
    server: ContractServer, tmp_path: Path
) -> None:
    cache = TextStore(LocalStorage(tmp_path / "storage"), "cache/translation")
    first = translator(server, tmp_path).translate(request(GLOSSARY, cache))
    asked = len(server.requests)
    again = translator(server, tmp_path).translate(request(GLOSSARY, cache))
    assert asked > 0 and len(server.requests) == asked, "the rerun made model requests"
    assert again.lines == first.lines and again.model_requests == 0


def test_shorten_asks_for_the_budget_and_keeps_only_a_shorter_wording(
    server: ContractServer, tmp_path: Path
) -> None:
    line = TranslatedLine(
        id=1, start=0.0, end=1.0, source_text="Hello there.", text="Hola a todos y bienvenidos."
    )
    server.reset(Reply(content=json.dumps({"text": "Hola."})), Reply(content='{"text": "x" }'))
    cache = TextStore(LocalStorage(tmp_path / "storage"), "cache/translation")
    shorten = translator(server, tmp_path).shortener("es", cache)
    assert shorten is not None
    assert shorten(line, 1.0) == "Hola."
    asked = json.loads(server.requests[0]["messages"][1]["content"])
    assert asked["max_chars"] == char_budget(1.0, "es") and asked["line"] == line.text
    assert shorten(line, 1.0) == "Hola." and len(server.requests) == 1, "cached"
    longer = line.model_copy(update={"text": "Hola"})
    server.reset(Reply(content=json.dumps({"text": "Hola a todos"})))
    assert shorten(longer, 0.5) is None, "a longer wording is no shortening"


def test_without_an_endpoint_or_a_local_server_the_error_says_what_to_do(tmp_path: Path) -> None:
    from localization_core.errors import ConfigurationError

    idle = OpenAITranslator(Settings(TRANSLATOR_PROVIDER="openai", LOCALIZATION_DATA_DIR=tmp_path))
    assert "es" in idle.supported_targets(), "choosing languages needs no endpoint"
    with pytest.raises(
        ConfigurationError, match=r"TRANSLATOR_BASE_URL is not set .*`localize llm`"
    ):
        idle.translate(request())
