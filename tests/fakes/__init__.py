"""Test doubles that speak real HTTP on loopback: a scripted fake Ollama server (`fake_ollama`), the same
scripts over /v1/responses (`fake_responses`), and a TLS/auth reverse proxy with fault injection (`proxy`).

They are for the tests and the benchmarks, so they live here rather than in the shipped package.
Run `python tests/fakes/fake_ollama.py --port 11434` for a standalone fake server.
"""
