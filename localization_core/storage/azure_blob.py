"""Azure Blob backend: blocks are staged, then committed in one call (atomic for readers)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from localization_core.errors import ConfigurationError, ObjectNotFoundError
from localization_core.storage.base import (
    CHUNK_BYTES,
    ObjectInfo,
    Page,
    StorageBackend,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from azure.storage.blob import BlobProperties, ContainerClient


def _blocks(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Regroup arbitrary chunks into blocks of ``size`` bytes (the last may be shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


class AzureBlobStorage(StorageBackend):
    """Objects are block blobs in one container."""

    name = "azure_blob"

    def __init__(
        self,
        container: str,
        *,
        connection_string: str | None = None,
        account_url: str | None = None,
        block_size: int = CHUNK_BYTES,
    ) -> None:
        from azure.storage.blob import BlobServiceClient

        if connection_string:
            service = BlobServiceClient.from_connection_string(connection_string)
        elif account_url:
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(account_url, credential=DefaultAzureCredential())
        else:
            raise ConfigurationError(
                "azure_blob storage needs AZURE_STORAGE_CONNECTION_STRING or "
                "AZURE_STORAGE_ACCOUNT_URL"
            )
        self._container: ContainerClient = service.get_container_client(container)
        self._block_size = block_size

    def ensure_container(self) -> None:
        """Create the container when it does not exist yet."""
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self._container.create_container()

    def write_stream(self, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Stage every block, then commit the list with the content MD5."""
        from azure.storage.blob import BlobBlock, ContentSettings

        blob = self._container.get_blob_client(validate_key(key))
        digest = hashlib.md5(usedforsecurity=False)
        block_ids: list[BlobBlock] = []
        for block in _blocks(chunks, self._block_size):
            digest.update(block)
            block_id = base64.b64encode(uuid.uuid4().bytes).decode()
            blob.stage_block(block_id, block)
            block_ids.append(BlobBlock(block_id=block_id))
        settings = ContentSettings(content_md5=bytearray(digest.digest()))
        blob.commit_block_list(block_ids, content_settings=settings)
        return self.info(key)

    def location(self, key: str) -> str:
        """The blob's URL, without a SAS token or any other query (never a credential)."""
        url: str = self._container.get_blob_client(validate_key(key)).url
        return url.split("?", 1)[0]

    def read_bytes(self, key: str) -> bytes:
        """Whole blob content."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._container.get_blob_client(validate_key(key))
        try:
            return blob.download_blob().readall()
        except ResourceNotFoundError as exc:
            raise ObjectNotFoundError(f"no object at {key!r}") from exc

    def download_file(self, key: str, dest: Path) -> Path:
        """Stream the blob to a temp file beside ``dest``, then rename."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._container.get_blob_client(validate_key(key))
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                blob.download_blob().readinto(out)
            os.replace(tmp, dest)
        except ResourceNotFoundError as exc:
            raise ObjectNotFoundError(f"no object at {key!r}") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dest

    def info(self, key: str) -> ObjectInfo:
        """Blob properties as ``ObjectInfo``."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._container.get_blob_client(validate_key(key))
        try:
            return self._to_info(blob.get_blob_properties())
        except ResourceNotFoundError as exc:
            raise ObjectNotFoundError(f"no object at {key!r}") from exc

    def delete(self, key: str) -> bool:
        """Delete the blob; False when it did not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._container.delete_blob(validate_key(key))
        except ResourceNotFoundError:
            return False
        return True

    def list_page(self, prefix: str = "", page_size: int = 1000, token: str | None = None) -> Page:
        """One service page, with user metadata; the continuation token is the service's own."""
        validate_prefix(prefix)
        pages = self._container.list_blobs(
            name_starts_with=prefix or None, include=["metadata"], results_per_page=page_size
        ).by_page(continuation_token=token)
        items = tuple(self._to_info(blob) for blob in next(pages, []))
        # the SDK's page iterator carries the token; its typing only says Iterator
        token_after: str | None = getattr(pages, "continuation_token", None)
        return Page(items=items, next_token=token_after or None)

    @staticmethod
    def _to_info(blob: BlobProperties) -> ObjectInfo:
        md5 = blob.content_settings.content_md5
        return ObjectInfo(
            key=blob.name,
            size=blob.size,
            etag=str(blob.etag).strip('"'),
            content_md5=bytes(md5).hex() if md5 else None,
            last_modified=blob.last_modified,
            metadata=tuple(sorted((blob.metadata or {}).items())),
        )
