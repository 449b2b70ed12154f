"""Map a setting value to ``"module:Class"`` and import only the chosen implementation."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from localization_core.errors import ConfigurationError

T = TypeVar("T")


def load_provider(
    layer: str, name: str, registry: Mapping[str, str], base: Callable[..., T], **kwargs: Any
) -> T:
    """Instantiate provider ``name`` of ``layer``; imports happen here and nowhere earlier."""
    target = registry.get(name)
    if target is None:
        choices = ", ".join(sorted(registry))
        raise ConfigurationError(f"unknown {layer} provider {name!r}; choose one of: {choices}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    instance: T = cls(**kwargs)
    if not isinstance(base, type) or not isinstance(instance, base):
        raise ConfigurationError(f"{target} is not a {getattr(base, '__name__', base)}")
    return instance
