"""Map a setting value to ``"module:Class"`` and import only the chosen implementation."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from localization_core.errors import ConfigurationError

T = TypeVar("T")


class Entry(NamedTuple):
    """A provider: where its class is, and where its steps must run. ``pool`` is ``"gpu"`` for
    a provider that runs on the node's GPU (the ``gpu`` pool and Celery queue), the name of a
    remote service it calls (a pool of that name), or None for CPU work."""

    target: str
    pool: str | None = None


def pool_of(registry: Mapping[str, Entry], name: str) -> str | None:
    """The pool of provider ``name`` (None for an unknown name: loading it will say so)."""
    entry = registry.get(name)
    return entry.pool if entry else None


def provider_class(layer: str, name: str, registry: Mapping[str, Entry], base: object) -> Any:
    """The class of provider ``name`` of ``layer`` (imported now), without building it: what a
    planning step needs to know of an engine installed elsewhere."""
    entry = registry.get(name)
    if entry is None:
        choices = ", ".join(sorted(registry))
        raise ConfigurationError(f"unknown {layer} provider {name!r}; choose one of: {choices}")
    module_name, class_name = entry.target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not isinstance(cls, type) or not isinstance(base, type) or not issubclass(cls, base):
        raise ConfigurationError(f"{entry.target} is not a {getattr(base, '__name__', base)}")
    return cls


def load_provider(
    layer: str, name: str, registry: Mapping[str, Entry], base: Callable[..., T], **kwargs: Any
) -> T:
    """Instantiate provider ``name`` of ``layer``; imports happen here and nowhere earlier."""
    instance: T = provider_class(layer, name, registry, base)(**kwargs)
    return instance
