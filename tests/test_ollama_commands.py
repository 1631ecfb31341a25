"""models / oss list / pull / show / ps / rm / bench: the real CLI against the scripted fake Ollama."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from typing import Any

from conftest import base_env
from fakes.fake_ollama import FakeOllama


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_models_lists_details_and_the_oss_default(ocodex, fake) -> None:
    fake.models.append("qwen3:8b")
    run = ocodex("models", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["server"] == fake.base_url
    by_name = {m["name"]: m for m in data["models"]}
    assert set(by_name) == {"gpt-oss:20b", "qwen3:8b"}
    gpt = by_name["gpt-oss:20b"]
    assert gpt["parameter_size"] == "20.9B" and gpt["quantization"] == "MXFP4"
    assert gpt["context_length"] == 131072 and gpt["size"] > 10 * 1024**3
    assert {"tools", "thinking"} <= set(gpt["capabilities"])
    assert data["oss_default"] == {"model": "gpt-oss:20b", "reason": "host has 16.0 GiB RAM (< 64 GiB)",
                                   "present": "gpt-oss:20b"}

    human = ocodex("models")
    assert human.returncode == 0, human.stderr
    assert "qwen3:8b" in human.stdout and "MXFP4" in human.stdout and "131,072" in human.stdout
    assert "--oss would use gpt-oss:20b (host has 16.0 GiB RAM (< 64 GiB)); present" in human.stdout


def test_oss_list_is_models_and_big_hosts_pick_the_large_model(ocodex) -> None:
    run = ocodex("oss", "list", "--json", env={"OCODEX_HOST_MEMORY_GIB": "128"})
    assert run.returncode == 0, run.stderr
    default = json.loads(run.stdout)["oss_default"]
    assert default["model"] == "gpt-oss:120b" and default["present"] is None
    assert ">= 64 GiB" in default["reason"]
    human = ocodex("oss", "list", env={"OCODEX_HOST_MEMORY_GIB": "128"})
    assert "not on the server yet: `ocodex pull gpt-oss:120b`" in human.stdout
    configured = ocodex("models", "--json", "-c", "model=qwen3:8b")
    assert json.loads(configured.stdout)["oss_default"]["reason"].startswith("from -c")


def test_management_commands_say_when_the_server_is_down(ocodex) -> None:
    down = f"http://127.0.0.1:{_free_port()}/v1"
    for args in (["models"], ["show", "gpt-oss:20b"], ["ps"], ["pull", "qwen3:8b"], ["rm", "--yes", "x:1b"],
                 ["bench"]):
        run = ocodex(*args, env={"CODEX_OSS_BASE_URL": down})
        assert run.returncode == 1, (args, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert lines[-3].startswith("error: ") and "127.0.0.1" in lines[-3], (args, run.stderr)
        assert lines[-2].startswith("hint: ") and "ollama serve" in lines[-2], (args, run.stderr)
        assert lines[-1].startswith("hint: or run without Ollama: "), (args, run.stderr)  # the embedded line
        assert "Traceback" not in run.stderr


def test_pull_installs_models_with_progress(ocodex, fake) -> None:
    run = ocodex("pull", "qwen3:8b", "llama3.2:1b")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["pulled qwen3:8b", "pulled llama3.2:1b"]
    assert "pulling qwen3:8b:" in run.stderr and "(100.0%)" in run.stderr and "success" in run.stderr
    assert {"qwen3:8b", "llama3.2:1b"} <= set(fake.models)


def test_pull_error_mid_stream_fails_and_installs_nothing(ocodex, fake) -> None:
    fake.pull_error, fake.pull_error_after = "max retries exceeded: unexpected EOF", 3
    run = ocodex("pull", "qwen3:8b")
    assert run.returncode == 1
    assert "error: qwen3:8b: Pull failed: max retries exceeded: unexpected EOF" in run.stderr
    assert "error: 1 of 1 pulls failed; pulled: none; failed: qwen3:8b; not attempted: none\n" in run.stderr
    assert "qwen3:8b" not in fake.models


def test_pull_goes_on_after_an_unknown_model(ocodex, fake) -> None:
    run = ocodex("pull", "nosuch:1b", "qwen3:8b")
    assert run.returncode == 1
    assert "Pull failed: pull model manifest: file does not exist" in run.stderr
    assert run.stdout == "pulled qwen3:8b\n" and "qwen3:8b" in fake.models
    assert ("error: 1 of 2 pulls failed; pulled: qwen3:8b; failed: nosuch:1b; not attempted: none\n"
            in run.stderr)
    assert run.stderr.splitlines()[-1].startswith("hint: ")


def test_pull_ctrl_c_summarises_pulled_failed_and_not_attempted(fake, home) -> None:
    """Ctrl-C while the third model downloads: exit 130 and one line saying where the pulls stand."""
    original_lines, original_sleep = fake._pull_lines, fake._sleep
    slow = {"model": False, "lines": 0}

    def lines(name: Any) -> Any:  # only llama3.2:1b is slow, so the signal lands in its download
        slow.update(model="llama3.2" in name.display, lines=0)
        return original_lines(name)

    def sleep(seconds: float) -> bool:  # its manifest line comes at once, then the download stalls
        slow["lines"] += 1
        return original_sleep(30.0) if slow["model"] and slow["lines"] > 1 else True

    fake._pull_lines, fake._sleep = lines, sleep
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", "pull", "qwen3:8b", "nosuch:1b", "llama3.2:1b",
                             "gemma3:1b"], env=base_env(home, fake.base_url), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = ""
        while "pulling manifest" not in seen.partition("Pulling llama3.2:1b")[2]:  # its download started
            line = proc.stderr.readline()
            assert line, f"ocodex ended early: {seen}"
            seen += line
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, seen + rest
    assert out == "pulled qwen3:8b\n"
    summary = [line for line in (seen + rest).splitlines() if line.startswith("error: interrupted")]
    assert summary == ["error: interrupted; pulled: qwen3:8b; failed: nosuch:1b, llama3.2:1b (interrupted); "
                       "not attempted: gemma3:1b"], seen + rest
    assert "Traceback" not in rest and "llama3.2:1b" not in fake.models and "gemma3:1b" not in fake.models


def test_pull_stops_with_a_summary_when_the_server_goes_away(monkeypatch, capsys) -> None:
    from types import SimpleNamespace

    from ocodex.commands import pull
    from ocodex.errors import ServerUnavailable
    from ocodex.ollama import pull as ollama_pull

    attempted: list[str] = []

    def fake_pull(client: Any, model: str, display: Any) -> None:
        attempted.append(model)
        if model == "llama3.2:1b":
            raise ServerUnavailable("cannot reach the Ollama server at http://127.0.0.1:9", hint="start it")

    client = SimpleNamespace(probe=lambda: None, root="http://127.0.0.1:9")
    monkeypatch.setattr(pull, "open_target", lambda args: SimpleNamespace(client=client, close=lambda: None))
    monkeypatch.setattr(ollama_pull, "pull_with_progress", fake_pull)
    code = pull.run_pull(SimpleNamespace(models=["qwen3:8b", "llama3.2:1b", "gemma3:1b"]))
    out, err = capsys.readouterr()
    assert code == 1 and attempted == ["qwen3:8b", "llama3.2:1b"]
    assert out == "pulled qwen3:8b\n"
    assert err.splitlines()[-3:] == [
        "error: llama3.2:1b: cannot reach the Ollama server at http://127.0.0.1:9", "hint: start it",
        "error: stopped: the server went away; pulled: qwen3:8b; failed: llama3.2:1b; not attempted: gemma3:1b"]


def test_show_reports_details_and_missing_models(ocodex, fake) -> None:
    run = ocodex("show", "gpt-oss:20b", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["name"] == "gpt-oss:20b" and data["context_length"] == 131072
    assert data["architecture"] == "gptoss" and "tools" in data["capabilities"]
    assert data["temperature"] == 1.0
    human = ocodex("show", "GPT-OSS:20b")
    assert human.returncode == 0, human.stderr
    assert "gptoss" in human.stdout and "not set: server default" in human.stdout

    missing = ocodex("show", "qwen3:8b")
    assert missing.returncode == 1
    assert "error: model 'qwen3:8b' not found" in missing.stderr
    assert "hint: pull it with `ollama pull qwen3:8b` or `ocodex pull qwen3:8b`" in missing.stderr


def test_ps_lists_loaded_models(ocodex, fake) -> None:
    empty = ocodex("ps")
    assert empty.returncode == 0 and "No models loaded" in empty.stdout
    assert ocodex("exec", "--oss", "say hi").returncode == 0
    run = ocodex("ps", "--json")
    assert run.returncode == 0, run.stderr
    models = json.loads(run.stdout)["models"]
    assert [m["name"] for m in models] == ["gpt-oss:20b"]
    assert models[0]["context_length"] == 4096 and models[0]["expires_at"]
    human = ocodex("ps")
    assert "gpt-oss:20b" in human.stdout and "4,096" in human.stdout and "100% GPU" in human.stdout
    assert "in 4m" in human.stdout or "in 5m" in human.stdout


def test_rm_asks_for_confirmation_and_deletes(ocodex, fake) -> None:
    fake.models.append("qwen3:8b")
    refused = ocodex("rm", "qwen3:8b")  # stdin is not a terminal
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert "qwen3:8b" in fake.models
    run = ocodex("rm", "--yes", "Qwen3:8b")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "deleted qwen3:8b\n" and "qwen3:8b" not in fake.models
    assert [r.json for r in fake.requests if r.method == "DELETE"] == [{"model": "qwen3:8b"}]
    missing = ocodex("rm", "--yes", "qwen3:8b")
    assert missing.returncode == 1 and "is not on the Ollama server" in missing.stderr


def test_bench_reports_medians_and_a_suggestion(ocodex, fake) -> None:
    run = ocodex("bench", "--runs", "2", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["model"] == "gpt-oss:20b" and data["runs"] == 2 and len(data["each"]) == 2
    median = data["median"]
    # The fake reports 50 ms of prompt evaluation and 150 ms of generation (Ollama's nanosecond counters).
    assert median["prompt_tps"] == median["prompt_tokens"] / 0.05
    assert median["gen_tps"] == median["gen_tokens"] / 0.15
    assert median["prompt_tokens"] > 500  # the real first-turn prompt: system prompt, tools, environment
    assert median["rtt_ms"] > 0 and median["load_s"] >= 0 and median["ttft_s"] > 0
    assert data["request_bytes"] > 2000 and data["suggestions"]
    generates = [r.json for r in fake.requests if r.path == "/api/generate"]
    assert sum(1 for body in generates if body.get("keep_alive") == 0) == 2  # unloaded before each run
    prompts = [body["prompt"] for body in generates if body.get("prompt")]
    assert len(prompts) == 2 and prompts[0] != prompts[1]  # no KV-cache reuse between runs

    human = ocodex("bench", "--runs", "1", "--warm", "-m", "gpt-oss:20b")
    assert human.returncode == 0, human.stderr
    assert "first token" in human.stdout and "tok/s" in human.stdout and "suggestion:" in human.stdout
    assert "load time        -  " in human.stdout and "- s" not in human.stdout  # not measured with --warm
    assert "(median of 1 run)" in human.stdout


def test_bench_refuses_bad_runs_and_missing_models(ocodex) -> None:
    bad = ocodex("bench", "--runs", "0")
    assert bad.returncode == 2 and "error: --runs must be at least 1" in bad.stderr
    missing = ocodex("bench", "-m", "qwen3:8b")
    assert missing.returncode == 1
    assert "error: model 'qwen3:8b' is not on the Ollama server" in missing.stderr
    assert "ocodex pull qwen3:8b" in missing.stderr


def test_help_lists_the_management_commands(ocodex) -> None:
    run = ocodex("--help")
    for command in ("models", "pull", "show", "ps", "rm", "doctor", "bench", "tunnel"):
        assert command in run.stdout
    assert ocodex("oss").returncode == 2


def test_old_servers_fill_context_and_capabilities_from_show() -> None:
    from ocodex.commands.common import Target
    from ocodex.commands.models import list_models
    from ocodex.config import Settings
    from ocodex.net.transport import Transport
    from ocodex.ollama.client import ModelEntry, OllamaClient

    with FakeOllama(models=["qwen3:8b"]) as server:
        transport = Transport()
        client = OllamaClient(server.root, transport)
        real_tags = client.tags
        # A pre-0.30 server lists neither context length nor capabilities in /api/tags.
        client.tags = lambda: [ModelEntry(name=e.name, size=e.size) for e in real_tags()]  # type: ignore[method-assign]
        target = Target(Settings(), Settings().model_providers["oss"], server.base_url, "default", transport,
                        client)
        rows = list_models(target)
        target.close()
    assert rows[0]["context_length"] == 131072 and "thinking" in rows[0]["capabilities"]
    assert rows[0]["quantization"] == "Q4_K_M"


def test_models_asks_show_for_several_models_at_once() -> None:
    # One /api/show per model, one after the other, costs a round trip each on a remote server.
    import threading

    from ocodex.commands.common import Target
    from ocodex.commands.models import list_models
    from ocodex.config import Settings
    from ocodex.net.transport import Transport
    from ocodex.ollama.client import ModelEntry, OllamaClient

    names = ["qwen3:8b", "llama3.1:8b", "gemma3:4b"]
    with FakeOllama(models=names) as server:
        transport = Transport()
        client = OllamaClient(server.root, transport)
        real_tags, real_show = client.tags, client.show
        together = threading.Barrier(len(names), timeout=30)  # passes only if all three are in flight

        def show(name: str):  # type: ignore[no-untyped-def]
            together.wait()
            return real_show(name)

        client.tags = lambda: [ModelEntry(name=e.name, size=e.size) for e in real_tags()]  # type: ignore[method-assign]
        client.show = show  # type: ignore[method-assign]
        target = Target(Settings(), Settings().model_providers["oss"], server.base_url, "default", transport,
                        client)
        rows = list_models(target)
        target.close()
    assert sorted(row["name"] for row in rows) == sorted(names)
    assert all(row["context_length"] and row["capabilities"] for row in rows)


def _rm_on_a_terminal(home, fake, answer: str) -> tuple[int, str]:
    """Run `ocodex rm qwen3:8b` with a terminal on stdin and type `answer`."""
    import os
    import subprocess
    import sys

    from conftest import base_env

    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "ocodex", "rm", "qwen3:8b"], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=base_env(home, fake.base_url))
        os.write(master, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, out + err


def test_rm_on_a_terminal_deletes_only_after_yes(home, fake) -> None:
    fake.models.append("qwen3:8b")
    code, output = _rm_on_a_terminal(home, fake, "n")
    assert code == 1 and "Delete qwen3:8b from" in output and "nothing deleted" in output
    assert "qwen3:8b" in fake.models
    code, output = _rm_on_a_terminal(home, fake, "y")
    assert code == 0 and "deleted qwen3:8b" in output
    assert "qwen3:8b" not in fake.models


def test_tunnel_readiness_check_ignores_proxy_variables(monkeypatch) -> None:
    # The check talks to our own loopback end of the tunnel; a corporate HTTP_PROXY cannot reach it.
    import subprocess

    from ocodex.commands.tunnel import _wait_ready

    dead_proxy = f"http://127.0.0.1:{_free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    ssh = subprocess.Popen(["sleep", "30"])
    try:
        with FakeOllama() as server:
            assert _wait_ready(ssh, server.root, timeout=10) == "0.13.4"
    finally:
        ssh.kill()
        ssh.wait()


def test_bench_bytes_per_turn_is_what_exec_sends(ocodex, fake, repo) -> None:
    # The seed's "prompt size matters": the number must be exec's real first request from here, with
    # this repository's AGENTS.md and the configured sandbox, not a fixed approximation.
    from ocodex.commands.bench import TASK

    (repo / "AGENTS.md").write_text("Run `make test` before committing.\n" * 40)
    for options in ([], ["-c", "sandbox_mode=workspace-write"]):
        bench = ocodex(*options, "bench", "--runs", "1", "--warm", "--json")
        assert bench.returncode == 0, bench.stderr
        run = ocodex(*options, "exec", "--oss", TASK)
        assert run.returncode == 0, run.stderr
        sent = [r.body for r in fake.requests if r.path == "/v1/chat/completions"][-1]
        assert json.loads(bench.stdout)["request_bytes"] == len(sent), options


def test_rm_prompt_ends_its_line_on_ctrl_c_and_ctrl_d(monkeypatch, capsys) -> None:
    import io

    import pytest

    from ocodex.commands.rm import _confirm

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    class Interrupting(Terminal):
        def readline(self, *args: object) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr("sys.stdin", Interrupting())
    with pytest.raises(KeyboardInterrupt):
        _confirm("Delete x? [y/N] ")
    assert capsys.readouterr().err == "Delete x? [y/N] \n"
    monkeypatch.setattr("sys.stdin", Terminal(""))
    assert _confirm("Delete x? [y/N] ") is False
    assert capsys.readouterr().err == "Delete x? [y/N] \n"
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert _confirm("Delete x? [y/N] ") is True
