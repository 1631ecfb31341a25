"""The embedded provider with the real Qwen2.5-Coder-0.5B (extra `local-small`, installed by scripts/test): `ocodex
exec --oss --local-provider embedded` starts llama.cpp in the ocodex process, answers one turn, and asks no
Ollama anything. The assembled file is reused from ~/.cache/ocodex/models as tests/test_real_model.py does.
"""

from __future__ import annotations

import pytest

from ocodex.embedded.weights import WeightsError, cached_model, find_model, installed_parts

pytest.importorskip("xllamacpp", reason="xllamacpp is not installed (pip install -e '.[local-small]'; scripts/test "
                                        "installs it on x86_64 Linux)")

MODEL = "qwen2.5-coder:0.5b"
RUN_TIMEOUT_S = 600  # a safety net: greedy sampling, a one-word answer; about a minute on 2 busy cores


@pytest.fixture(scope="module")
def small_model() -> None:
    weights = find_model(MODEL)
    if cached_model(weights) is None:
        try:
            installed_parts(weights)
        except WeightsError as exc:
            pytest.skip(str(exc))


def test_exec_runs_a_turn_on_the_embedded_0_5b(ocodex, fake, small_model: None) -> None:
    run = ocodex("exec", "--oss", "--local-provider", "embedded", "-m", MODEL, "--json",
                 "Reply with exactly one word: hello", timeout=RUN_TIMEOUT_S)
    assert run.returncode == 0, run.stderr
    [message] = run.items("agent_message")
    assert message["text"].strip()
    [completed] = [e for e in run.events() if e["type"] == "turn.completed"]
    assert completed["usage"]["input_tokens"] > 0 and completed["usage"]["output_tokens"] > 0
    assert "provider: embedded: llama.cpp (Qwen2.5-Coder-0.5B-Instruct) in this process" in run.stderr
    assert "context: 16384 tokens (the embedded default; trained for 32768)" in run.stderr
    assert fake.requests == []  # CODEX_OSS_BASE_URL points at a fake Ollama: nothing asked it
