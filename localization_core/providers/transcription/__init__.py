"""The transcription provider layer."""
