"""The Codex patch format: a parser and an atomic applier, usable as a library."""
