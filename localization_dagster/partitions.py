"""Partitions of DESIGN section 3: videos, languages, and their product."""

from __future__ import annotations

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
