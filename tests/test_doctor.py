"""`ocodex doctor` against the fake Ollama: what it reports, its fixes, and its exit code."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest


def _checks(run) -> dict[str, dict]:
    data = json.loads(run.stdout)
    return {check["name"]: check for check in data["checks"]}


def test_a_ready_setup_passes_with_one_line_per_check(ocodex, fake) -> None:
    fake.loaded_context = 65536
    assert ocodex("exec", "--oss", "say hi").returncode == 0  # loads the model: /api/ps has its context
    run = ocodex("doctor", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    checks = _checks(run)
    assert json.loads(run.stdout)["ok"] is True
    for name in ("config", "server", "reachable", "latency", "version", "model", "capabilities", "context",
                 "memory", "sandbox", "ripgrep"):
        assert checks[name]["status"] == "ok", checks[name]
    if sys.platform.startswith("linux"):  # what the probe read inside the sandbox
        assert checks["confined"] == {**checks["confined"], "status": "ok", "detail": (
            "no capabilities inside (CapInh/Prm/Eff/Bnd/Amb all 0), no_new_privs, seccomp filter loaded")}
    assert checks["storage"]["status"] in ("ok", "warn")  # a warning when this disk is nearly full
    assert checks["server"]["detail"] == f"{fake.base_url} (from CODEX_OSS_BASE_URL)"
    assert "Ollama 0.13.4" in checks["version"]["detail"]
    assert checks["model"]["detail"] == "gpt-oss:20b (host has 16.0 GiB RAM (< 64 GiB))"
    assert checks["context"]["detail"].startswith("65,536 tokens (allocated by the loaded runner")

    human = ocodex("doctor")
    assert human.returncode == 0
    assert human.stdout.strip().splitlines()[-1] == "ready: `ocodex exec --oss` can run here"
    assert "ok   reachable" in human.stdout


def test_small_context_warns_with_the_fix(ocodex, fake) -> None:
    assert ocodex("exec", "--oss", "say hi").returncode == 0  # the fake allocates 4096 by default
    run = ocodex("doctor")
    assert run.returncode == 0
    assert "warn context       4,096 tokens" in run.stdout
    assert "fix: give the model a larger window: `-c model_context_window=32768`" in run.stdout
    sized = ocodex("doctor", "--json", "-c", "model_context_window=32768")
    context = _checks(sized)["context"]
    assert context["status"] == "ok" and context["detail"].startswith("32,768 tokens (model_context_window")


def test_server_down_blocks_and_says_how_to_start_it(ocodex) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = ocodex("doctor", env={"CODEX_OSS_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    assert run.returncode == 1
    assert "FAIL reachable" in run.stdout and "ollama serve" in run.stdout
    assert "1 problem(s) block `ocodex exec --oss`: reachable" in run.stdout
    assert "ok   sandbox" in run.stdout and "ok   memory     host RAM 16.0 GiB" in run.stdout  # local checks still run
    default = ocodex("doctor", "--json", env={"CODEX_OSS_BASE_URL": "", "CODEX_OSS_PORT": str(port)})
    assert _checks(default)["server"]["detail"] == f"http://localhost:{port}/v1 (from CODEX_OSS_PORT)"


def test_a_base_url_without_v1_blocks_when_the_server_has_no_route_there(ocodex, fake) -> None:
    # The seed's "Wrong endpoint used": Ollama answers at the root, but exec would POST
    # {base}/chat/completions and get 404 for every model request.
    run = ocodex("doctor", "--json", env={"CODEX_OSS_BASE_URL": fake.root})
    assert run.returncode == 1, run.stdout
    server = _checks(run)["server"]
    assert server["status"] == "fail" and "answered 404" in server["detail"]
    assert server["fix"].startswith("Wrong endpoint used")
    human = ocodex("doctor", env={"CODEX_OSS_BASE_URL": fake.root})
    assert "problem(s) block `ocodex exec --oss`: server" in human.stdout


def test_basic_auth_in_the_base_url_is_reported_as_sent(ocodex, fake) -> None:
    url = fake.base_url.replace("http://", "http://bob:pw-secret@")
    run = ocodex("doctor", "--json", env={"CODEX_OSS_BASE_URL": url})
    assert run.returncode == 0, run.stdout
    assert _checks(run)["reachable"]["detail"].endswith("(with Basic auth from the base URL's user:password)")
    assert "pw-secret" not in run.stdout + run.stderr


def test_an_unreachable_server_names_the_url_ollama_host_points_at(ocodex, fake) -> None:
    # The seed's `export OLLAMA_HOST=0.0.0.0:PORT; ollama serve` moves the server; ocodex (like Codex)
    # only reads CODEX_OSS_BASE_URL/CODEX_OSS_PORT, so doctor says which URL to export.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = sock.getsockname()[1]
    env = {"CODEX_OSS_BASE_URL": "", "CODEX_OSS_PORT": str(down), "OLLAMA_HOST": f"0.0.0.0:{fake.port_number}"}
    run = ocodex("doctor", "--json", env=env)
    assert run.returncode == 1
    fix = _checks(run)["reachable"]["fix"]
    assert fix.startswith(f"OLLAMA_HOST is set here: if `ollama serve` was started with it, point ocodex at it "
                          f"with `export CODEX_OSS_BASE_URL=http://localhost:{fake.port_number}/v1`")
    assert "ollama serve" in fix.split("OLLAMA_HOST).", 1)[1]  # the usual advice follows
    followed = ocodex("doctor", "--json", env={"CODEX_OSS_BASE_URL": f"http://localhost:{fake.port_number}/v1"})
    assert followed.returncode == 0, followed.stdout


@pytest.mark.parametrize(("value", "url"), [
    ("0.0.0.0:11500", "http://localhost:11500/v1"), ("127.0.0.1", "http://127.0.0.1:11434/v1"),
    ("https://ollama.example.com", "https://ollama.example.com:443/v1"), ("[::]:11434", "http://localhost:11434/v1"),
    (":11435", "http://localhost:11435/v1"), ("", None), ("host:notaport", None),
])
def test_ollama_host_url(value: str, url: str | None) -> None:
    from ocodex.commands.doctor import ollama_host_url

    assert ollama_host_url(value) == url


def test_missing_model_is_a_warning_with_auto_pull_and_a_failure_without(ocodex, fake) -> None:
    fake.models[:] = ["qwen3:8b"]
    run = ocodex("doctor", "--json")
    assert run.returncode == 0
    model = _checks(run)["model"]
    assert model["status"] == "warn" and model["fix"] == "pre-pull it now: `ocodex pull gpt-oss:20b`"
    blocked = ocodex("doctor", "--json", "-c", "oss.auto_pull=false")
    assert blocked.returncode == 1
    assert _checks(blocked)["model"]["status"] == "fail"
    chosen = ocodex("doctor", "--json", "-m", "qwen3:8b")
    assert chosen.returncode == 0 and _checks(chosen)["model"]["detail"] == "qwen3:8b (from -m)"


def test_a_model_without_tools_is_a_warning_because_exec_falls_back_to_text_calls(ocodex, fake) -> None:
    fake.models.append("gemma3:4b")
    run = ocodex("doctor", "--json", "-c", "model=gemma3:4b")
    assert run.returncode == 0  # exec runs it (tools described in the prompt), so nothing is blocked
    check = _checks(run)["capabilities"]
    assert check["status"] == "warn" and "no native tool calling" in check["detail"]
    assert "-m gpt-oss:20b" in check["fix"]
    assert ocodex("exec", "--oss", "-m", "gemma3:4b", "hi").returncode == 0


def test_a_broken_config_file_blocks_with_its_path(ocodex, home: Path) -> None:
    (home / "config.toml").write_text("model = \n")
    run = ocodex("doctor")
    assert run.returncode == 1
    assert "FAIL config" in run.stdout and "config.toml" in run.stdout
    (home / "config.toml").write_text('model = "gpt-oss:20b"\nbogus_key = 1\n')
    warned = ocodex("doctor", "--json")
    config = _checks(warned)["config"]
    assert config["status"] == "warn" and "bogus_key" in config["detail"]
    assert str(home / "config.toml") in config["detail"]


def test_models_directory_from_ollama_models(ocodex, fake, tmp_path: Path) -> None:
    models = tmp_path / "models"
    missing = ocodex("doctor", "--json", env={"OLLAMA_MODELS": str(models)})
    assert _checks(missing)["storage"]["status"] == "warn"
    models.mkdir()
    found = ocodex("doctor", "--json", env={"OLLAMA_MODELS": str(models)})
    assert _checks(found)["storage"]["detail"].startswith(f"models in {models} (")
    # A path the OS refuses to examine (here ENAMETOOLONG; EACCES for a private ollama home) is a
    # finding, not a traceback.
    unusable = ocodex("doctor", "--json", env={"OLLAMA_MODELS": "/" + "a" * 300})
    assert "Traceback" not in unusable.stderr
    assert _checks(unusable)["storage"]["status"] == "warn"


def test_plain_http_to_another_host_is_flagged_without_contacting_it() -> None:
    import argparse

    from ocodex.commands.common import Target
    from ocodex.commands.doctor import Doctor
    from ocodex.config import Settings
    from ocodex.errors import ServerUnavailable
    from ocodex.net.transport import Transport

    class Unreachable:  # stands in for the client: no connection to another host is ever attempted
        root = "http://gpu-box.lan:11434"

        def probe(self) -> None:
            raise ServerUnavailable("No running Ollama server detected at http://gpu-box.lan:11434",
                                    hint="Start it with `ollama serve`")

    settings = Settings()
    target = Target(settings, settings.model_providers["oss"], "http://gpu-box.lan:11434/v1",
                    "CODEX_OSS_BASE_URL", Transport(), Unreachable())  # type: ignore[arg-type]
    doctor = Doctor(argparse.Namespace())
    doctor.check_server(target)
    checks = {check.name: check for check in doctor.checks}
    assert checks["transport"].status == "warn" and "unencrypted" in checks["transport"].detail
    assert "ocodex tunnel user@host" in checks["transport"].fix
    assert checks["reachable"].status == "fail" and doctor.blocked


def test_on_a_terminal_long_checks_wrap_under_their_text() -> None:
    import io
    import re

    from rich.console import Console

    from ocodex.commands.doctor import Check, print_checks

    buffer = io.StringIO()
    out = Console(file=buffer, width=60, force_terminal=True, no_color=True, highlight=False)
    checks = [Check("server", "ok", "http://localhost:11434/v1 (the default)"),
              Check("reachable", "fail", "No running Ollama server detected at http://127.0.0.1:9 " * 2,
                    "Start it with `ollama serve` or `docker compose -f deploy/docker-compose.yml up -d`")]
    print_checks(out, checks)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue()).splitlines()
    assert lines[0].startswith("ok   server     http://localhost:11434/v1")  # as on a pipe
    assert lines[1].startswith("FAIL reachable  No running Ollama server")
    assert len(lines) > 3 and all(line.startswith(" " * 16) for line in lines[2:])  # never at column 0
    assert any(line.strip().startswith("fix: Start it with") for line in lines[2:])
