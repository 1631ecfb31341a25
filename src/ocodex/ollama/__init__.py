"""Ollama's native API: probe, version, tags, show, ps, pull, name rules, default model."""
