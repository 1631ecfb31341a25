"""ocodex: a terminal coding agent for open models served by Ollama."""

__version__ = "0.1.0"
