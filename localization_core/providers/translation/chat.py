"""A client for one OpenAI-compatible chat completions endpoint (vLLM, llama.cpp's server).

Every request asks for structured output (``response_format`` with a JSON schema), temperature
0 and, for Qwen3 on vLLM, no thinking. Transient failures (connection errors, timeouts, 408,
429 and 5xx) are retried with exponential backoff and jitter for a bounded total time, then
raised as ``GpuServiceError`` so Dagster retries the step; any other HTTP error is permanent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import httpx

from localization_core.domain import Frozen
from localization_core.errors import TranslationError
from localization_core.providers.http_retry import TransientError, post, with_retries

SchemaStyle = Literal["json_schema", "json_object"]


def response_format(schema: dict[str, Any], style: SchemaStyle) -> dict[str, Any]:
    """Structured output as the server understands it: OpenAI's and vLLM's ``json_schema``,
    or llama-cpp-python's ``json_object`` with a ``schema`` (its server refuses the former)."""
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    return {
        "type": "json_schema",
        "json_schema": {"name": "reply", "strict": True, "schema": schema},
    }


class ChatReply(Frozen):
    """The first choice of a chat completion."""

    content: str
    finish_reason: str
    reasoning: str = ""


class ChatClient:
    """Posts chat completions to ``{base_url}/chat/completions`` with structured output."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_s: float,
        retry_s: float,
        schema_style: SchemaStyle = "json_schema",
        on_request: Callable[[], None] | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url
        self.model = model
        self.retry_s = retry_s
        self.schema_style = schema_style
        self.on_request = on_request
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/", timeout=timeout_s, headers=headers
        )

    def complete(
        self, messages: list[dict[str, str]], schema: dict[str, Any], *, max_tokens: int
    ) -> ChatReply:
        """One completion whose content should follow ``schema`` (transient errors retried)."""
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "seed": 0,
            "max_tokens": max_tokens,
            "response_format": response_format(schema, self.schema_style),
            "chat_template_kwargs": {"enable_thinking": False},
        }
        body = with_retries(
            lambda: self._post(payload), retry_s=self.retry_s, service="translation service"
        )
        return _first_choice(body)

    def _post(self, payload: dict[str, Any]) -> Any:
        if self.on_request is not None:
            self.on_request()
        response = post(self._http, "chat/completions", json=payload)
        if response.status_code >= 400:
            raise TranslationError(
                f"translation service refused the request: HTTP {response.status_code} "
                f"{response.text[:200]}"
            )
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise TransientError("the service answered with something that is not JSON") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _first_choice(body: Any) -> ChatReply:
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise TranslationError("the translation service answered without a choice") from exc
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    return ChatReply(
        content=message.get("content") or "",
        finish_reason=choice.get("finish_reason") or "",
        reasoning=str(reasoning),
    )
