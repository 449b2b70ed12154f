"""What every stage asset shares: partition keys, failure translation, automation."""

import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from localization_core.errors import (
    GpuServiceError,
    LocalizationError,
    ProcessingError,
    TaskCancelledError,
)
from localization_core.settings import get_settings
from localization_dagster.partitions import localizations, videos
from localization_dagster.versions import code_version

# eager, but never past a failed blocking check (``eager()`` alone ignores checks)
EAGER = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager (blocking checks passed)")
with warnings.catch_warnings():  # beta in Dagster, and the mapping DESIGN section 3 prescribes
    warnings.simplefilter("ignore")
    FROM_VIDEO = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="video")
TRANSIENT_RETRIES = 3
BACKOFF_S = 5.0

# translation starts a (video, language) pair only when asked (the request sensor); automation
# only keeps pairs that exist up to date, so a new language never fans out to every video
REQUESTED_ONLY = (EAGER & ~dg.AutomationCondition.missing()).with_label(
    "eager for requested pairs (blocking checks passed)"
)

__all__ = ["EAGER", "FROM_VIDEO", "localizations", "videos"]


def version_of(asset: str) -> str:
    """The code version of ``asset`` under this process's settings (see ``versions``)."""
    return code_version(asset, get_settings())


def video_input() -> dg.AssetIn:
    """A localization-level asset reading a video-level one."""
    return dg.AssetIn(partition_mapping=FROM_VIDEO)


def video_id(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> str:
    """The video of the running partition (single or multi-dimensional)."""
    key = context.partition_key
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension["video"]
    return key


def language(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> str:
    """The target language of the running localization partition."""
    key = context.partition_key
    assert isinstance(key, dg.MultiPartitionKey), "not a localization partition"
    return key.keys_by_dimension["lang"]


def describe(exc: BaseException) -> str:
    """One line for a user: the message of an error we raise on purpose; for an I/O error, its
    cause and path; for anything else, its type and first line."""
    if isinstance(exc, OSError) and exc.filename is not None:
        cause = (exc.strerror or type(exc).__name__).lower()
        return f"{cause}: {exc.filename}"
    text = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, LocalizationError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _retry_number() -> int:
    try:
        return dg.OpExecutionContext.get().retry_number
    except dg.DagsterInvariantViolationError:  # called outside a step (direct invocation)
        return 0


@contextmanager
def stage(name: str, where: str = "") -> Iterator[None]:
    """Errors by kind, for stage ``name`` (the asset); ``where`` names the part of it that
    failed (``segment 3 [12.00-14.50 s]``) at the start of the message.

    ``GpuServiceError`` (a service's 5xx or timeout after its own bounded retries) is the only
    transient error: Dagster retries the step with exponential backoff and jitter, at most
    ``TRANSIENT_RETRIES`` times, then it fails with one line. ``TaskCancelledError`` passes
    through. Everything else (bad input, a stage failure, a read-only disk, a bug) fails the
    step once, never retried, with its type and one readable line: ``RetryPolicy`` cannot
    filter by exception, so no asset has one.
    """
    try:
        yield
    except GpuServiceError as exc:
        attempt = _retry_number()
        if attempt < TRANSIENT_RETRIES:
            wait = BACKOFF_S * 2**attempt * random.uniform(0.5, 1.5)  # noqa: S311 - jitter
            raise dg.RetryRequested(TRANSIENT_RETRIES, wait) from exc
        reason = f"gave up after {attempt} retries: {describe(exc)}"
        raise _failure(name, exc, f"{where}: {reason}" if where else reason) from exc
    except TaskCancelledError:
        raise
    except Exception as exc:
        reason = describe(exc)
        raise _failure(name, exc, f"{where}: {reason}" if where else reason) from exc


FIXES = {
    "InvalidInputError": "fix the input (re-upload a readable video, or correct the command)",
    "TranslationError": "correct the translation (sidecar file) or the translator settings",
    "PathTraversalError": "use a storage key inside the storage root",
    "OSError": "free space or fix permissions on the named path, then rerun",
}


def _failure(name: str, exc: Exception, description: str) -> dg.Failure:
    metadata = {"stage": name, "error": type(exc).__name__, "reason": description}
    if isinstance(exc, ProcessingError):
        metadata["component"] = exc.stage  # e.g. "media" for an ffmpeg step inside the stage
    fix = next((FIXES[cls.__name__] for cls in type(exc).__mro__ if cls.__name__ in FIXES), None)
    if fix:
        metadata["fix"] = fix
    _observe_failure(name, description, metadata)
    return dg.Failure(description=description, metadata=metadata, allow_retries=False)


def _observe_failure(name: str, description: str, metadata: dict[str, str]) -> None:
    """Put the failure on the asset's own page: an observation of the partition that failed,
    with the stage, the reason and the fix (the UI otherwise only says "run failed")."""
    try:
        context = dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:  # called outside a step (direct invocation)
        return
    partition = str(context.partition_key) if context.has_partition_key else None
    context.log_event(
        dg.AssetObservation(
            asset_key=name,
            partition=partition,
            description=f"{name} failed: {description}",
            metadata={"status": "failed", **metadata},
        )
    )
