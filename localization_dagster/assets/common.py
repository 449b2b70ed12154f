"""What every stage asset shares: partition keys, failure translation, automation."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from localization_core.errors import (
    ConfigurationError,
    InvalidInputError,
    LocalizationError,
    ProcessingError,
)
from localization_core.settings import get_settings
from localization_dagster.partitions import localizations, videos
from localization_dagster.versions import code_version

EAGER = dg.AutomationCondition.eager()
with warnings.catch_warnings():  # beta in Dagster, and the mapping DESIGN section 3 prescribes
    warnings.simplefilter("ignore")
    FROM_VIDEO = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="video")
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

__all__ = ["EAGER", "FROM_VIDEO", "TRANSIENT_RETRY", "localizations", "videos"]


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


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Turn a permanent error of stage ``name`` (the asset) into a non-retried ``Failure``.

    Transient errors (``GpuServiceError``) propagate unchanged, so step retry policies apply.
    """
    try:
        yield
    except (InvalidInputError, ProcessingError, ConfigurationError) as exc:
        metadata = {"stage": name, "error": type(exc).__name__}
        if isinstance(exc, ProcessingError):
            metadata["component"] = exc.stage  # e.g. "media" for an ffmpeg step inside the stage
        raise dg.Failure(description=str(exc), metadata=metadata, allow_retries=False) from exc
    except LocalizationError:
        raise
