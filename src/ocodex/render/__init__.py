"""Faces that only read events: human text, JSONL, progress bars."""
