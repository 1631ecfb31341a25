"""Ollama model-name rules (reference §5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocodex.ollama.names import display_name, find_model, normalize, same_model

NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/:"


@pytest.mark.parametrize(("typed", "shown"), [
    ("llama3.1", "llama3.1:latest"),
    ("llama3.1:8b", "llama3.1:8b"),
    ("library/llama3.1", "llama3.1:latest"),
    ("registry.ollama.ai/library/llama3.1:latest", "llama3.1:latest"),
    ("jmorgan/mymodel", "jmorgan/mymodel:latest"),
    ("hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M", "hf.co/bartowski/qwen3-8b-gguf:q4_k_m"),
    ("localhost:5000/ns/m", "localhost:5000/ns/m:latest"),
    ("localhost:5000/ns/m:v2", "localhost:5000/ns/m:v2"),
    ("  GPT-OSS:20B  ", "gpt-oss:20b"),
    ("gpt-oss:", "gpt-oss:latest"),
    ("registry.ollama.ai/jmorgan/x", "jmorgan/x:latest"),
    ("registry.ollama.ai/x", "x:latest"),
    ("https://registry.ollama.ai/library/x:1", "x:1"),
    ("hf.co/library/x", "hf.co/library/x:latest"),
    ("", ""),
    ("   ", ""),
])
def test_normalize_table(typed: str, shown: str) -> None:
    assert normalize(typed) == shown


def test_display_name_keeps_case() -> None:
    assert display_name("Library/Foo") == "Foo:latest"
    assert display_name("hf.co/Org/Repo:Q4_K_M") == "hf.co/Org/Repo:Q4_K_M"


def test_same_model() -> None:
    assert same_model("llama3.1", "llama3.1:latest")
    assert same_model("LLAMA3.1", "registry.ollama.ai/library/llama3.1:latest")
    assert not same_model("llama3.1", "llama3.1:8b")
    assert not same_model("", "")


def test_find_model_returns_server_spelling() -> None:
    available = ["gpt-oss:20b", "Qwen3:8B", "llama3.1:latest", "jmorgan/mymodel:latest"]
    assert find_model("gpt-oss:20b", available) == "gpt-oss:20b"
    assert find_model("qwen3:8b", available) == "Qwen3:8B"
    assert find_model("llama3.1", available) == "llama3.1:latest"
    assert find_model("library/llama3.1", available) == "llama3.1:latest"
    assert find_model("jmorgan/mymodel", available) == "jmorgan/mymodel:latest"
    assert find_model("gpt-oss:120b", available) is None
    assert find_model("gpt-oss", available) is None  # gpt-oss:latest is a different tag
    assert find_model("", available) is None


@given(st.text())
def test_normalize_is_idempotent(name: str) -> None:
    once = normalize(name)
    assert normalize(once) == once


@given(st.text(alphabet=NAME_CHARS, min_size=1))
def test_normalize_is_idempotent_on_name_like_text(name: str) -> None:
    once = normalize(name)
    assert normalize(once) == once


@given(st.text(alphabet=NAME_CHARS, min_size=1).filter(lambda s: s.strip()))
def test_same_model_ignores_case(name: str) -> None:
    assert same_model(name, name.upper())
    assert same_model(name, name.lower())


@given(st.text(alphabet=NAME_CHARS, min_size=1).filter(lambda s: s.strip()))
def test_find_model_finds_its_own_normal_form(name: str) -> None:
    assert find_model(name, [normalize(name).upper()]) == normalize(name).upper()
