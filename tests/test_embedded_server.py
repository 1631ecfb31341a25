"""The in-process llama.cpp server's failure paths (serving a real model: tests/test_real_model.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ocodex.embedded.server import EmbeddedServerError, LlamaServer

pytestmark = pytest.mark.fast  # in-process: no ocodex subprocess, no model


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    server = LlamaServer(tmp_path / "absent.gguf", alias="x")
    with pytest.raises(EmbeddedServerError, match=r"absent\.gguf does not exist"):
        server.start()
    assert not server.running
    with pytest.raises(EmbeddedServerError, match="not running"):
        _ = server.base_url


def test_missing_xllamacpp_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # import xllamacpp now raises ImportError
    with pytest.raises(EmbeddedServerError) as caught:
        LlamaServer(model, alias="x", extra="local-small").start()
    assert "xllamacpp" in caught.value.message and caught.value.hint is not None
    assert "pip install 'ocodex[local-small]'" in caught.value.hint


@pytest.mark.parametrize(("kwargs", "message"), [({"n_ctx": 100}, "n_ctx=100 is too small"),
                                                 ({"n_parallel": 0}, "n_parallel=0 must be at least 1")])
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(EmbeddedServerError, match=message):
        LlamaServer(tmp_path / "m.gguf", alias="x", **kwargs)


def test_a_file_that_is_not_a_gguf_fails_to_start_cleanly(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp", reason="xllamacpp is not installed (pip install -e '.[local-small]')")
    model = tmp_path / "broken.gguf"
    model.write_bytes(b"this is not a model" * 64)
    server = LlamaServer(model, alias="broken")
    with pytest.raises(EmbeddedServerError, match=r"llama\.cpp could not serve broken\.gguf"):
        server.start()
    assert not server.running
    server.stop()  # stopping a server that never started is fine
