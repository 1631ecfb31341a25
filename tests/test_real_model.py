"""A real model in the loop: Qwen2.5-Coder-0.5B-Instruct (extra `local-small`, installed by scripts/test) served
by llama.cpp in this process, temperature 0 and a fixed seed, drives `ocodex exec --full-auto --json` through
one file edit, made as an edit item.

Before the small-model profile (issue 9) ocodex could not get the 0.5B to make it: the model answered with tool
calls written as JSON text in shapes ocodex did not run, or to tools that do not exist, and the run ended with
the file unchanged. With the profile (`ocodex.profile`) it is shown the file and writes it back whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ocodex.embedded.weights import WeightsError, ensure_model, find_model, installed_parts

pytest.importorskip("xllamacpp", reason="xllamacpp is not installed (pip install -e '.[local-small]'; scripts/test "
                                        "installs it on x86_64 Linux)")

MODEL = "qwen2.5-coder:0.5b"
SEED = 1234
# A safety net only: answers are capped at 256 tokens and the sampling is greedy, so the run is the same every
# time (about a minute on 2 idle cores); a busy machine makes it slower, never different.
RUN_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def model_server() -> Iterator[str]:
    from ocodex.embedded.server import LlamaServer

    weights = find_model(MODEL)
    try:
        installed_parts(weights)
    except WeightsError as exc:
        pytest.skip(str(exc))
    path = ensure_model(weights)  # assembled once into ~/.cache/ocodex/models
    # One thread: two spin at barriers and collapse when other processes share the 2 cores.
    with LlamaServer(path, alias=MODEL, n_ctx=8192, n_predict=256, temperature=0.0, seed=SEED, threads=1,
                     extra=weights.extra) as server:
        yield server.base_url


def test_the_0_5b_edits_a_file_through_a_tool_call(ocodex, home: Path, repo: Path, model_server: str) -> None:
    (repo / "settings.py").write_text('DEBUG = True\nNAME = "demo"\n')
    (home / "config.toml").write_text(
        'model_provider = "llama"\nmodel_context_window = 8192\ntemperature = 0\n'
        f'[model_providers.llama]\nname = "llama.cpp"\nbase_url = "{model_server}/v1"\nwire_api = "chat"\n'
        "request_max_retries = 1\nstream_max_retries = 1\n")
    run = ocodex("exec", "--full-auto", "--json", "-m", MODEL,
                 "In settings.py, change `DEBUG = True` to `DEBUG = False`.", timeout=RUN_TIMEOUT_S)
    assert run.returncode == 0, run.stdout
    assert (repo / "settings.py").read_text() == 'DEBUG = False\nNAME = "demo"\n'
    assert run.items("file_change")  # the edit was ocodex's, as an item
