"""Provider layers: one ABC per layer, implementations imported lazily through registries."""
