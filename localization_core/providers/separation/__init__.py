"""The separation provider layer."""
