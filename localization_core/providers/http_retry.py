"""Calls to remote model services (vLLM, a TTS server): transient failures are retried.

Connection errors, timeouts, 408, 429 and 5xx are worth another try: they are retried with
exponential backoff and jitter for a bounded total time, then raised as ``GpuServiceError`` so
Dagster retries the step later (DESIGN section 7). Every other answer goes back to the caller,
which decides what a 4xx or a malformed reply means for its stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from localization_core.errors import GpuServiceError

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


class TransientError(Exception):
    """A failure worth another try: the service may answer the same request later."""


def post(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """One POST; a transient failure raises :class:`TransientError`, any other answer returns."""
    try:
        response = client.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientError(f"timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"cannot reach the service ({type(exc).__name__})") from exc
    if response.status_code in TRANSIENT_STATUS:
        raise TransientError(f"HTTP {response.status_code}")
    return response


def with_retries(attempt: Callable[[], T], *, retry_s: float, service: str) -> T:
    """``attempt()`` until it succeeds or ``retry_s`` of transient failures have passed."""
    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_delay(retry_s),
        wait=wait_exponential_jitter(multiplier=0.5, max=8.0),
    )
    try:
        return retrying(attempt)
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        raise GpuServiceError(
            f"{service} unavailable after {retry_s:.0f} s of retries: {cause}"
        ) from cause
