"""Build the configured storage backend; the Azure SDK is imported only for `azure_blob`."""

from __future__ import annotations

from localization_core.settings import Settings, get_settings
from localization_core.storage.base import StorageBackend


def create_storage(settings: Settings | None = None) -> StorageBackend:
    """The backend named by ``STORAGE_TYPE``."""
    settings = settings or get_settings()
    if settings.storage_type == "azure_blob":
        from localization_core.storage.azure_blob import AzureBlobStorage

        secret = settings.azure_storage_connection_string
        return AzureBlobStorage(
            settings.azure_storage_container,
            connection_string=secret.get_secret_value() if secret else None,
            account_url=settings.azure_storage_account_url,
        )
    from localization_core.storage.local import LocalStorage

    return LocalStorage(settings.storage_root)
