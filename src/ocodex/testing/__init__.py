"""Test doubles shipped with ocodex: a scripted fake Ollama server for tests, benchmarks and demos."""
