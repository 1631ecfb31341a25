"""Round trips: a warm `exec --oss` sends the model request with what the probes found last time and checks it
with one request meanwhile; a cold run probes, with the independent probes at once. Requests are counted
against the fake Ollama server. The cache file is ocodex's own: corrupt or swapped, it reads as empty."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fakes.fake_ollama import FakeOllama, Turn
from ocodex.ollama.probe_cache import ProbeCache, ProbeKey

SAY_HI = ("exec", "--oss", "-m", "gpt-oss:20b", "say hi")
COLD = ["GET /v1/models", "GET /api/version", "GET /api/tags", "GET /api/ps", "POST /api/show",
        "POST /api/generate", "GET /api/ps", "POST /v1/chat/completions"]


def requests_of(fake: FakeOllama, run) -> list[str]:
    before = len(fake.requests)
    result = run()
    assert result.returncode == 0, result.stderr
    return [f"{r.method} {r.path}" for r in fake.requests[before:]]


def cache_file(home: Path) -> Path:
    return home / "cache" / "oss-probes.json"


def test_a_warm_run_makes_two_requests(ocodex, fake: FakeOllama, home: Path) -> None:
    cold = requests_of(fake, lambda: ocodex(*SAY_HI))
    assert sorted(cold) == sorted(COLD)  # the three first probes go out at once, in any order
    assert cold[-1] == "POST /v1/chat/completions"
    assert cache_file(home).is_file()
    for _ in range(2):
        warm = requests_of(fake, lambda: ocodex(*SAY_HI))
        assert sorted(warm) == ["GET /api/tags", "POST /v1/chat/completions"]  # at most 3: here 2


def test_the_warm_run_says_what_the_cold_run_said(ocodex, fake: FakeOllama) -> None:
    cold, warm = ocodex(*SAY_HI), ocodex(*SAY_HI)
    lines = [[line for line in run.stderr.splitlines() if line.startswith(("provider:", "model:", "context:"))]
             for run in (cold, warm)]
    assert lines[0] == lines[1] and len(lines[0]) == 3


def test_a_changed_digest_drops_the_cache_and_the_next_run_probes(ocodex, fake: FakeOllama, home: Path) -> None:
    ocodex(*SAY_HI)
    data = json.loads(cache_file(home).read_text())
    [entry] = data["entries"].values()
    entry["digest"] = "0" * 64
    cache_file(home).write_text(json.dumps(data))
    warm = ocodex(*SAY_HI)
    assert warm.returncode == 0
    assert "gpt-oss:20b changed on the server (digest 000000000000 is now" in warm.stderr
    assert "the next run probes again" in warm.stderr
    again = requests_of(fake, lambda: ocodex(*SAY_HI))  # probed again (the model is loaded now: no load)
    assert "GET /v1/models" in again and "POST /api/show" in again


def test_a_model_gone_from_the_server_is_probed_and_pulled_next_run(ocodex, fake: FakeOllama) -> None:
    ocodex(*SAY_HI)
    fake.models.clear()
    gone = ocodex(*SAY_HI)
    assert "gpt-oss:20b is no longer on the server" in gone.stderr
    after = requests_of(fake, lambda: ocodex(*SAY_HI))
    assert "POST /api/pull" in after and "GET /v1/models" in after


def test_more_prompt_tokens_than_the_cached_window_drops_the_cache(ocodex, fake: FakeOllama) -> None:
    ocodex(*SAY_HI)
    fake.script(Turn.text("hi", usage=(99_999, 3)))
    warm = ocodex(*SAY_HI)
    assert "the server counted 99,999 prompt tokens, more than the cached 4,096-token window" in warm.stderr
    assert "GET /v1/models" in requests_of(fake, lambda: ocodex(*SAY_HI))


def test_a_corrupt_cache_is_a_cold_run_that_rewrites_it(ocodex, fake: FakeOllama, home: Path) -> None:
    cache_file(home).parent.mkdir(parents=True)
    cache_file(home).write_text("{not json")
    assert sorted(requests_of(fake, lambda: ocodex(*SAY_HI))) == sorted(COLD)
    assert json.loads(cache_file(home).read_text())["format"] == 1
    assert len(requests_of(fake, lambda: ocodex(*SAY_HI))) == 2


def test_the_wrong_endpoint_is_never_served_from_the_cache(ocodex, fake: FakeOllama) -> None:
    root = {"CODEX_OSS_BASE_URL": fake.root}  # no /v1: the "Wrong endpoint used" hint
    fake.models.clear()
    for _ in range(2):
        before = len(fake.requests)
        run = ocodex(*SAY_HI, env=root)
        assert run.returncode == 1
        assert "has no model API: GET " in run.stderr and "nothing was pulled" in run.stderr
        assert "Wrong endpoint used" in run.stderr
        assert [f"{r.method} {r.path}" for r in fake.requests[before:]] == ["GET /models"]  # no probe, no pull


@pytest.mark.fast
def test_the_cache_file_is_never_read_or_written_through_a_symlink(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"format": 1, "entries": {"x|m|": {"model": "m"}}}))
    os.symlink(elsewhere, cache_file(home))
    cache = ProbeCache(home)
    key = ProbeKey("x", "m", None)
    assert cache.get(key) is None  # not followed
    cache.put(key, {"model": "m"})
    assert not cache_file(home).is_symlink() and cache.get(key) is not None
    assert json.loads(elsewhere.read_text())["entries"] == {"x|m|": {"model": "m"}}  # untouched
    assert [p.name for p in (home / "cache").iterdir()] == ["oss-probes.json"]  # no temp file left


@pytest.mark.fast
@pytest.mark.parametrize("content", ["", "[]", '{"format": 1, "entries": []}', '{"format": 99, "entries": {}}',
                                     '{"format": 1, "entries": {"k": 3}}', "\x00\xff"])
def test_any_odd_cache_reads_as_empty(tmp_path: Path, content: str) -> None:
    (tmp_path / "cache").mkdir()
    cache_file(tmp_path).write_text(content, errors="surrogateescape")
    assert ProbeCache(tmp_path).get(ProbeKey("k", "", None)) is None


def test_a_warm_run_with_the_server_gone_says_so_as_a_cold_run_does(ocodex, fake: FakeOllama, home: Path,
                                                                     repo: Path) -> None:
    import subprocess
    import sys

    from conftest import base_env

    env = base_env(home, fake.base_url)
    ocodex(*SAY_HI)
    fake.stop()
    gone = subprocess.run([sys.executable, "-m", "ocodex", *SAY_HI], cwd=repo, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert gone.returncode == 1
    assert "error: No running Ollama server detected at " in gone.stderr
    assert "--local-provider embedded" in gone.stderr and "Reconnecting" not in gone.stderr  # not retried
    assert json.loads(cache_file(home).read_text())["entries"] == {}  # the next run probes
    fake.start()  # for the fixture's own stop


@pytest.mark.fast
def test_a_process_serves_one_readiness_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a process's first readiness is served from the cache: `/new`, a model switch or an escalation
    probe again, as the server may have changed while the session sat."""
    import threading

    from ocodex.net.transport import Transport
    from ocodex.ollama import ready
    from ocodex.ollama.client import OllamaClient

    monkeypatch.setattr(ready, "_used", threading.Lock())
    with FakeOllama(models=["gpt-oss:20b"]) as server:
        transport = Transport()
        client = OllamaClient(server.root, transport, base_url=server.base_url)
        try:
            def get() -> ready.Readiness:
                return ready.get_ready(client=client, home=tmp_path, model="gpt-oss:20b", requested=None,
                                       auto_pull=False, emit=lambda event: None)

            assert get().validation is None  # cold: probed, then cached
            monkeypatch.setattr(ready, "_used", threading.Lock())  # another process
            warm = get()
            assert warm.validation is not None and warm.validation.outcome() is None
            assert get().validation is None  # the second readiness of this process probes again
        finally:
            transport.close()
