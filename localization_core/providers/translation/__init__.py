"""The translation provider layer."""
