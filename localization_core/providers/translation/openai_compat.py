"""Translation by an LLM behind any OpenAI-compatible chat endpoint (DESIGN section 5).

vLLM serves Qwen3 on GPU nodes; llama.cpp's server serves a packaged 1.5B model on a laptop
(``localization_core.llm_server``). Lines go in batches, each with a few neighbouring lines as
context, the glossary terms it contains and its duration budget in characters; the reply is JSON
(one entry per line id) and is validated before it is used. Each line's translation is cached by
everything that shaped it, so a rerun asks the model nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from localization_core.cache import cache_key
from localization_core.domain import DubLine, TranslatedLine, Translation
from localization_core.errors import ConfigurationError, TranslationError
from localization_core.glossary import Glossary, Term
from localization_core.providers.translation.base import (
    TextCache,
    TranslationRequest,
    Translator,
)
from localization_core.providers.translation.budget import CHARS_PER_SECOND, char_budget
from localization_core.providers.translation.chat import ChatClient
from localization_core.providers.translation.languages import language_name, written_in
from localization_core.settings import Settings

PROMPT_VERSION = "2026-12-03.1"
CONTEXT_LINES = 2
REPLY_TRIES = 3  # the first reply and two corrections
UNTRANSLATED_MIN_WORDS = 4

BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
                "required": ["id", "text"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["lines"],
    "additionalProperties": False,
}
SHORTEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}

TRANSLATE_SYSTEM = (
    "You translate dialogue for dubbing. Translate every line from {source} into {target}. "
    "Keep the meaning and the tone; the dub must be speakable in the time the original took, "
    "so each translation should stay within its max_chars. Use the glossary's target wording "
    "for every glossary term. Context lines are for understanding only: do not translate them. "
    'Reply with JSON only: {{"lines": [{{"id": <id>, "text": "<translation>"}}]}}, every id '
    "exactly once, no other text."
)
SHORTEN_SYSTEM = (
    "You shorten dubbing lines. Rewrite the line in {target} with fewer words so it can be "
    "spoken in the time available: at most max_chars characters, same meaning, natural speech. "
    'Reply with JSON only: {{"text": "<shorter line>"}}.'
)


class InvalidReplyError(Exception):
    """The model answered, but not with a usable translation; ``line`` names the culprit."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Item:
    """One line to translate with what the model sees around it."""

    line: DubLine
    budget: int
    terms: tuple[Term, ...]
    key: str


def _digest(texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()


def parse_batch(content: str, items: Sequence[Item], target: str) -> dict[int, str]:
    """The translations of ``items`` in a reply; InvalidReplyError names what is wrong."""
    try:
        data = json.loads(content)
        entries = data["lines"]
        pairs = [(int(entry["id"]), str(entry["text"])) for entry in entries]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidReplyError(f"the reply is not the requested JSON ({exc})") from exc
    expected = {item.line.id: item for item in items}
    found: dict[int, str] = {}
    for line_id, text in pairs:
        if line_id not in expected:
            raise InvalidReplyError(f"the reply has line id {line_id}, which was not asked for")
        if line_id in found:
            raise InvalidReplyError(f"the reply has line {line_id} twice", line_id)
        found[line_id] = " ".join(text.split())
    for line_id, item in expected.items():
        _check_line(line_id, found.get(line_id), item.line.text, target)
    return found


def _check_line(line_id: int, text: str | None, source: str, target: str) -> None:
    if text is None:
        raise InvalidReplyError(f"the reply has no translation of line {line_id}", line_id)
    if not text:
        raise InvalidReplyError(f"the translation of line {line_id} is empty", line_id)
    if not written_in(text, target):
        raise InvalidReplyError(f"the translation of line {line_id} is not in {target}", line_id)
    words = source.split()
    if len(words) >= UNTRANSLATED_MIN_WORDS and text.casefold() == " ".join(words).casefold():
        raise InvalidReplyError(f"line {line_id} came back untranslated", line_id)


class OpenAITranslator(Translator):
    """Any target language in ``CHARS_PER_SECOND`` (each has an espeak-ng voice)."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = settings.translator_model
        self.batch_size = settings.translator_batch_size
        self.requests = 0
        self._client: ChatClient | None = None

    @property
    def client(self) -> ChatClient:
        """The endpoint's client, connected on first use (choosing languages needs none). The
        data dir's local server is looked up each time: each `localize` run starts its own."""
        base_url = self.settings.translator_base_url
        style = self.settings.translator_schema_style
        if base_url is None:  # the data dir's llama-cpp-python server speaks json_object
            from localization_core.llm_server import local_base_url

            base_url, style = local_base_url(self.settings), "json_object"
        if base_url is None:
            raise ConfigurationError(
                "TRANSLATOR_BASE_URL is not set and no local llama.cpp server runs for "
                f"{self.settings.data_dir}: run through `localize` or start one with "
                "`localize llm`"
            )
        if self._client is None or self._client.base_url != base_url:
            if self._client is not None:
                self._client.close()
            key = self.settings.translator_api_key
            self._client = ChatClient(
                base_url=base_url,
                model=self.model,
                api_key=key.get_secret_value() if key else None,
                timeout_s=self.settings.translator_timeout_s,
                retry_s=self.settings.translator_retry_s,
                schema_style=style,
                on_request=self._count,
            )
        return self._client

    def _count(self) -> None:
        self.requests += 1

    def supported_targets(self) -> frozenset[str]:
        """The languages of the speaking-rate table (README lists them)."""
        return frozenset(CHARS_PER_SECOND)

    # -- translate ------------------------------------------------------------------------

    def translate(self, request: TranslationRequest) -> Translation:
        """Every dub line translated: cached lines from the cache, the rest from the model."""
        lines = request.transcript.lines
        target = request.target_language
        items = [self._item(lines, index, request) for index, line in enumerate(lines)]
        done: dict[int, tuple[str, tuple[str, ...]]] = {}
        pending = []
        for item in items:
            hit = request.cache.get(item.key) if request.cache else None
            if hit is None:
                pending.append(item)
            else:
                entry = json.loads(hit)
                done[item.line.id] = (entry["text"], tuple(entry["flags"]))
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            texts = self._translate(batch, lines, request)
            for item in batch:
                text, flags = self._enforce_glossary(item, texts[item.line.id], lines, request)
                done[item.line.id] = (text, flags)
                if request.cache:
                    request.cache.put(item.key, json.dumps({"text": text, "flags": list(flags)}))
        return Translation(
            source_language=request.transcript.language,
            target_language=target,
            lines=tuple(
                TranslatedLine(
                    id=line.id,
                    start=line.start,
                    end=line.end,
                    source_text=line.text,
                    text=done[line.id][0],
                    speaker=line.speaker,
                    flags=done[line.id][1],
                )
                for line in lines
            ),
            provider=f"openai:{self.model}",
            model_requests=self.requests,
        )

    def _item(self, lines: Sequence[DubLine], index: int, request: TranslationRequest) -> Item:
        line = lines[index]
        before = [other.text for other in lines[max(0, index - CONTEXT_LINES) : index]]
        after = [other.text for other in lines[index + 1 : index + 1 + CONTEXT_LINES]]
        budget = char_budget(line.end - line.start, request.target_language)
        key = cache_key(
            "translation",
            text=line.text,
            context=_digest([*before, "|", *after]),
            glossary=request.glossary.digest(),
            source=request.transcript.language,
            target=request.target_language,
            budget=budget,
            model=self.model,
            prompt=PROMPT_VERSION,
            temperature=0,
        )
        return Item(line, budget, request.glossary.terms_in(line.text), key)

    def _translate(
        self, batch: Sequence[Item], lines: Sequence[DubLine], request: TranslationRequest
    ) -> dict[int, str]:
        """The batch's translations; a reply cut at max_tokens is retried in two halves."""
        reply = self._ask_batch(batch, lines, request)
        if reply is not None:
            return reply
        if len(batch) == 1:
            raise TranslationError(
                f"line {batch[0].line.id}: the model's reply was cut at its token limit"
            )
        half = len(batch) // 2
        return {
            **self._translate(batch[:half], lines, request),
            **self._translate(batch[half:], lines, request),
        }

    def _ask_batch(
        self,
        batch: Sequence[Item],
        lines: Sequence[DubLine],
        request: TranslationRequest,
        extra: str = "",
    ) -> dict[int, str] | None:
        """A validated reply for ``batch``, or None when the reply was cut (finish=length)."""
        messages = self._batch_messages(batch, lines, request, extra)
        tokens = 64 + sum(24 + len(item.line.text) + 2 * item.budget for item in batch)
        reply: dict[int, str] | None = self._ask(
            messages,
            BATCH_SCHEMA,
            tokens,
            lambda content: parse_batch(content, batch, request.target_language),
            first_line=batch[0].line.id,
        )
        return reply

    def _ask(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        max_tokens: int,
        parse: Callable[[str], Any],
        *,
        first_line: int,
    ) -> Any:
        """Ask until a reply parses (two corrections); None when the reply was cut."""
        problem: InvalidReplyError | None = None
        for _ in range(REPLY_TRIES):
            reply = self.client.complete(messages, schema, max_tokens=max_tokens)
            if reply.finish_reason == "length":
                return None
            try:
                if not reply.content.strip():
                    thinking = " (only reasoning: is thinking disabled?)" if reply.reasoning else ""
                    raise InvalidReplyError(f"the reply is empty{thinking}")
                return parse(reply.content)
            except InvalidReplyError as exc:
                problem = exc
                messages = [
                    *messages,
                    {"role": "assistant", "content": reply.content},
                    {"role": "user", "content": f"That reply is invalid: {exc}. Reply again."},
                ]
        assert problem is not None
        line = problem.line if problem.line is not None else first_line
        raise TranslationError(f"line {line}: {problem} (after {REPLY_TRIES} replies)")

    def _batch_messages(
        self,
        batch: Sequence[Item],
        lines: Sequence[DubLine],
        request: TranslationRequest,
        extra: str,
    ) -> list[dict[str, str]]:
        ids = [line.id for line in lines]
        first, last = ids.index(batch[0].line.id), ids.index(batch[-1].line.id)
        terms = {term.source: term.target for item in batch for term in item.terms}
        payload = {
            "source_language": request.transcript.language,
            "target_language": request.target_language,
            "context_before": [line.text for line in lines[max(0, first - CONTEXT_LINES) : first]],
            "lines": [
                {"id": item.line.id, "text": item.line.text, "max_chars": item.budget}
                for item in batch
            ],
            "context_after": [line.text for line in lines[last + 1 : last + 1 + CONTEXT_LINES]],
            "glossary": [{"source": s, "target": t} for s, t in sorted(terms.items())],
        }
        system = TRANSLATE_SYSTEM.format(
            source=language_name(request.transcript.language),
            target=language_name(request.target_language),
        )
        user = json.dumps(payload, ensure_ascii=False) + (f"\n{extra}" if extra else "")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _enforce_glossary(
        self, item: Item, text: str, lines: Sequence[DubLine], request: TranslationRequest
    ) -> tuple[str, tuple[str, ...]]:
        """Retry a line once when it misses a glossary term; still missing: flag it."""
        glossary = Glossary(terms=item.terms)
        if not glossary.missed(item.line.text, text):
            return text, ()
        wanted = "; ".join(f"'{t.source}' must be '{t.target}'" for t in item.terms)
        again = self._ask_batch([item], lines, request, extra=f"Glossary (mandatory): {wanted}.")
        if again is not None:
            text = again[item.line.id]
        missed = glossary.missed(item.line.text, text)
        return text, tuple(f"glossary: '{t.source}' should be '{t.target}'" for t in missed)

    # -- shorten --------------------------------------------------------------------------

    def shortener(
        self, language: str, cache: TextCache | None
    ) -> Callable[[TranslatedLine, float], str | None]:
        """``shorten(line, seconds)`` in ``language``: a shorter wording or None."""

        def shorten(line: TranslatedLine, seconds: float) -> str | None:
            return self.shorten(line, seconds, language=language, cache=cache)

        return shorten

    def shorten(
        self, line: TranslatedLine, seconds: float, *, language: str, cache: TextCache | None
    ) -> str | None:
        """A wording of ``line`` within ``seconds`` of speech that keeps its meaning, or None
        when the model offers nothing shorter."""
        budget = char_budget(seconds, language)
        key = cache_key(
            "shorten",
            text=line.text,
            source=line.source_text,
            target=language,
            budget=budget,
            model=self.model,
            prompt=PROMPT_VERSION,
            temperature=0,
        )
        hit = cache.get(key) if cache else None
        if hit is not None:
            return hit or None
        payload = {"line": line.text, "original": line.source_text, "max_chars": budget}
        messages = [
            {"role": "system", "content": SHORTEN_SYSTEM.format(target=language_name(language))},
            {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
        ]
        try:
            shorter = self._ask(
                messages,
                SHORTEN_SCHEMA,
                64 + 2 * budget,
                lambda content: _parse_shorter(content, language),
                first_line=line.id,
            )
        except TranslationError:
            shorter = None  # the line is cut instead: a flag, not a failure
        result = shorter if shorter and len(shorter) < len(line.text) else ""
        if cache:
            cache.put(key, result)
        return result or None


def _parse_shorter(content: str, language: str) -> str:
    try:
        text = " ".join(str(json.loads(content)["text"]).split())
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidReplyError(f"the reply is not the requested JSON ({exc})") from exc
    if not text:
        raise InvalidReplyError("the shorter wording is empty")
    if not written_in(text, language):
        raise InvalidReplyError(f"the shorter wording is not in {language}")
    return text
