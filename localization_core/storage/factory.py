"""Build a storage backend; the Azure SDK is imported only for `azure_blob`."""

from __future__ import annotations

from pathlib import Path

from localization_core.settings import Settings, get_settings
from localization_core.storage.base import StorageBackend


def open_storage(
    storage_type: str,
    *,
    local_root: Path,
    container: str,
    connection_string: str | None = None,
    account_url: str | None = None,
) -> StorageBackend:
    """The backend of ``storage_type`` (``local`` under ``local_root``, or ``azure_blob``)."""
    if storage_type == "azure_blob":
        from localization_core.storage.azure_blob import AzureBlobStorage

        return AzureBlobStorage(
            container, connection_string=connection_string, account_url=account_url
        )
    from localization_core.storage.local import LocalStorage

    return LocalStorage(local_root)


def create_storage(settings: Settings | None = None) -> StorageBackend:
    """The backend named by ``STORAGE_TYPE``."""
    settings = settings or get_settings()
    secret = settings.azure_storage_connection_string
    return open_storage(
        settings.storage_type,
        local_root=settings.storage_root,
        container=settings.azure_storage_container,
        connection_string=secret.get_secret_value() if secret else None,
        account_url=settings.azure_storage_account_url,
    )
