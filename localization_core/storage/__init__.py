"""Storage backends (`local`, `azure_blob`) behind one interface, chosen by ``STORAGE_TYPE``."""

from localization_core.storage.base import ObjectInfo, Page, StorageBackend, validate_key
from localization_core.storage.factory import create_storage

__all__ = ["ObjectInfo", "Page", "StorageBackend", "create_storage", "validate_key"]
