"""Sizing the context window against the fake server: what is read, what is created, what is said."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.fake_ollama import FakeOllama
from ocodex.net.transport import Transport
from ocodex.ollama.client import OllamaClient
from ocodex.ollama.window import size_context


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    with FakeOllama(models=["gpt-oss:20b"], context_length=131072) as fake:
        yield fake


@pytest.fixture
def client(server: FakeOllama) -> Iterator[OllamaClient]:
    transport = Transport()
    yield OllamaClient(server.root, transport)
    transport.close()


def test_effective_window_comes_from_ps_after_loading(server: FakeOllama, client: OllamaClient) -> None:
    server.loaded_context = 8192
    plan = size_context(client, "gpt-oss:20b", client.show("gpt-oss:20b"), None)
    assert (plan.model, plan.window, plan.trained) == ("gpt-oss:20b", 8192, 131072)
    loads = [r.json for r in server.requests if r.path == "/api/generate"]
    assert loads == [{"model": "gpt-oss:20b", "stream": False}]  # no options: /v1 will not reload it
    assert plan.sized.suggested == 32768  # below the rule: said when a turn comes close (ContextTight)
    assert plan.line == "context: 8192 tokens (as loaded by the server; trained for 131072)"


def test_already_loaded_model_is_not_loaded_again(server: FakeOllama, client: OllamaClient) -> None:
    server.loaded_context = 65536
    client.load("gpt-oss:20b")
    plan = size_context(client, "gpt-oss:20b", client.show("gpt-oss:20b"), None)
    assert plan.window == 65536 and "small" not in plan.line
    assert len([r for r in server.requests if r.path == "/api/generate"]) == 1


def test_modelfile_num_ctx_when_the_server_does_not_say(server: FakeOllama, client: OllamaClient) -> None:
    server.loaded_context = None
    server.num_ctx = 16384
    plan = size_context(client, "gpt-oss:20b", client.show("gpt-oss:20b"), None)
    assert plan.window == 16384 and "the model's num_ctx" in plan.line


def test_unknown_window(server: FakeOllama, client: OllamaClient) -> None:
    server.loaded_context = None
    plan = size_context(client, "gpt-oss:20b", client.show("gpt-oss:20b"), None)
    assert plan.window is None and plan.line.startswith("context: unknown")


def test_requested_window_is_capped_at_the_trained_context(server: FakeOllama, client: OllamaClient) -> None:
    server.context_length = 32768
    plan = size_context(client, "gpt-oss:20b", client.show("gpt-oss:20b"), 65536)
    assert (plan.model, plan.window) == ("gpt-oss:20b-ctx32k", 32768)
    assert "capped at the trained context" in plan.line
    client.load(plan.model)
    assert [m.context_length for m in client.ps() if m.name == plan.model] == [32768]


def test_model_whose_num_ctx_already_matches_is_used_as_is(server: FakeOllama, client: OllamaClient) -> None:
    server.num_ctx = 32768
    plan = size_context(client, "gpt-oss:20b", client.show("gpt-oss:20b"), 32768)
    assert plan.model == "gpt-oss:20b" and plan.window == 32768
    assert not [r for r in server.requests if r.path == "/api/create"]
