"""The error hierarchy: permanent input errors, stage failures, transient GPU-service errors.

The split decides retries: ``InvalidInputError`` never retries, ``GpuServiceError`` is
retried with backoff, ``ProcessingError`` records the stage that failed, and
``TaskCancelledError`` is a cancellation, not a failure.
"""

from __future__ import annotations


class LocalizationError(Exception):
    """Root of every error this package raises on purpose."""


class ProcessingError(LocalizationError):
    """A pipeline stage failed; ``stage`` names it for status and run metadata."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        self.message = message
        super().__init__(message)


class SeparationError(ProcessingError):
    """Vocal/background separation failed."""

    def __init__(self, message: str) -> None:
        super().__init__("separate", message)


class TranscriptionError(ProcessingError):
    """Speech-to-text or language identification failed."""

    def __init__(self, message: str) -> None:
        super().__init__("transcribe", message)


class TranslationError(ProcessingError):
    """Translation could not produce one line per dub line."""

    def __init__(self, message: str) -> None:
        super().__init__("translate", message)


class TTSGenerationError(ProcessingError):
    """Speech synthesis failed; ``segment_index`` is the dub line that failed (-1: the stage)."""

    def __init__(self, segment_index: int, message: str) -> None:
        self.segment_index = segment_index
        super().__init__("synthesize", message)


class LipSyncError(ProcessingError):
    """The lip-sync engine rejected or failed a window."""

    def __init__(self, message: str) -> None:
        super().__init__("lipsync", message)


class FaceNotDetectedError(LipSyncError):
    """The engine found no usable face in a frame of the window: bisect around it."""

    def __init__(self, message: str = "Face not detected") -> None:
        super().__init__(message)


class InvalidInputError(LocalizationError):
    """The user's input cannot be processed; retrying will not help."""


class GpuServiceError(LocalizationError):
    """A remote GPU service failed transiently; callers retry with backoff."""


class TaskCancelledError(LocalizationError):
    """The run was cancelled by a user; not a failure."""


class PathTraversalError(LocalizationError):
    """A storage key tried to leave the storage root."""


class ConfigurationError(LocalizationError):
    """A setting names something that does not exist or cannot be used."""


class ObjectNotFoundError(LocalizationError):
    """A storage key has no object behind it."""
