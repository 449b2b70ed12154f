"""The synthesis provider layer."""
