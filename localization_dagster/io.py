"""IO manager for JSON artifacts: every asset and op output is a frozen pydantic model.

Asset outputs live at ``artifacts/<asset>/<video>[/<lang>].json``; op outputs inside graph-backed
assets at ``runs/<run_id>/<step>/<output>[/<mapping key>].json``, so workers on other machines
that share the storage can read them.
"""

import json
from typing import Any

import dagster as dg

from localization_core.artifacts import ARTIFACT_TYPES, SegmentResult, SyncWindow
from localization_core.domain import Frozen
from localization_core.storage.base import StorageBackend
from localization_dagster.resources import StorageResource
from localization_dagster.workers import executing_worker

OP_TYPES: dict[str, type[Frozen]] = {
    **ARTIFACT_TYPES,
    "SyncWindow": SyncWindow,
    "SegmentResult": SegmentResult,
}


def partition_path(partition_key: str | dg.MultiPartitionKey) -> str:
    """``intro`` for a video partition, ``intro/es`` for a localization."""
    if isinstance(partition_key, dg.MultiPartitionKey):
        dims = partition_key.keys_by_dimension
        return f"{dims['video']}/{dims['lang']}"
    return partition_key


def _encode(value: Any) -> bytes:
    if isinstance(value, list):
        return json.dumps([_envelope(item) for item in value]).encode()
    return json.dumps(_envelope(value)).encode()


def _envelope(value: Any) -> dict[str, Any]:
    if not isinstance(value, Frozen) or type(value).__name__ not in OP_TYPES:
        raise TypeError(f"cannot store {type(value).__name__} as a JSON artifact")
    return {"type": type(value).__name__, "data": value.model_dump(mode="json")}


def _decode(raw: bytes) -> Any:
    data = json.loads(raw)
    if isinstance(data, list):
        return [_from_envelope(item) for item in data]
    return _from_envelope(data)


def _from_envelope(item: dict[str, Any]) -> Frozen:
    return OP_TYPES[item["type"]].model_validate(item["data"])


class JsonArtifactIOManager(dg.ConfigurableIOManager):
    """Stores outputs as JSON in the storage resource's backend."""

    storage: dg.ResourceDependency[StorageResource]

    def _asset_key_path(self, asset_key: dg.AssetKey, partition: str | None) -> str:
        name = "/".join(asset_key.path)
        return f"artifacts/{name}/{partition}.json" if partition else f"artifacts/{name}.json"

    def _output_key(self, context: dg.OutputContext) -> str:
        if context.has_asset_key:
            partition = (
                partition_path(context.asset_partition_key)
                if context.has_asset_partitions
                else None
            )
            return self._asset_key_path(context.asset_key, partition)
        return "runs/" + "/".join(context.get_identifier()) + ".json"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write ``obj`` as JSON; metadata points at where it went."""
        key = self._output_key(context)
        self.storage.backend().write_bytes(key, _encode(obj))
        # on a Celery worker: which node and queue ran the step (DESIGN section 6)
        where: dict[str, str] = executing_worker()
        if context.has_asset_key:
            where = {"artifact": key, **where}
        if where:
            context.add_output_metadata(where)

    def load_input(self, context: dg.InputContext) -> Any:
        """Read an upstream output back into its model."""
        if context.has_asset_key:
            partition = (
                partition_path(context.asset_partition_key)
                if context.has_asset_partitions
                else None
            )
            key = self._asset_key_path(context.asset_key, partition)
        else:
            if context.upstream_output is None:
                raise dg.DagsterInvariantViolationError("input has no upstream output")
            key = self._output_key(context.upstream_output)
        return _decode(self.storage.backend().read_bytes(key))


def read_artifact(storage: StorageBackend, asset: str, partition: str) -> Frozen:
    """The latest stored output of ``asset`` for ``partition`` (``intro`` or ``intro/es``), as
    its IO manager wrote it; ``ObjectNotFoundError`` before the first materialization."""
    found: Frozen = _from_envelope(
        json.loads(storage.read_bytes(f"artifacts/{asset}/{partition}.json"))
    )
    return found
