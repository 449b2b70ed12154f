"""The code location: every asset, resource and sensor the Dagster UI and daemon load."""

import dagster as dg

from localization_dagster.partitions import languages, videos


@dg.asset(partitions_def=videos, group_name="ingest")
def source_video(context: dg.AssetExecutionContext) -> dg.MaterializeResult[None]:
    """The ingested upload of one video (the full stage arrives with the asset graph)."""
    context.log.info("registered video %s", context.partition_key)
    return dg.MaterializeResult(metadata={"video": context.partition_key})


defs = dg.Definitions(assets=[source_video])

__all__ = ["defs", "languages", "videos"]
