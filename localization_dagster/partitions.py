"""Partitions of DESIGN section 3: videos, languages, and their product."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

videos = dg.DynamicPartitionsDefinition(name="videos")
languages = dg.DynamicPartitionsDefinition(name="languages")
localizations = dg.MultiPartitionsDefinition({"video": videos, "lang": languages})


def latest_materialization(
    instance: dg.DagsterInstance, asset: str, partition: str
) -> dg.EventLogRecord | None:
    """The latest materialization record of one asset partition, or None before it exists."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def add_requests(
    video_ids: Iterable[str], langs: Iterable[str], instance: dg.DagsterInstance | None = None
) -> list[dg.AddDynamicPartitionsRequest]:
    """Requests that add these ``videos`` and ``languages`` partitions; with ``instance``, only
    those it lacks (without, Dagster itself skips the ones that exist)."""
    requests = []
    for partitions, keys in ((videos, set(video_ids)), (languages, set(langs))):
        if instance is not None:
            keys -= set(instance.get_dynamic_partitions(partitions.name or ""))
        if keys:
            requests.append(partitions.build_add_request(sorted(keys)))
    return requests
