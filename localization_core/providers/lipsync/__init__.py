"""The lipsync provider layer."""
