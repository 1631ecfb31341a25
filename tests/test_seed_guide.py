"""The seed guide (../shared/seed/ocodex-models-and-ollama-guide.md), line by line: each of its shell
blocks is replayed against the fake Ollama server (its `ocodex` commands run as written, `ollama pull`
as `ocodex pull`, `export` lines set the environment with the host and port moved to the fake), and
the flags, environment variables and troubleshooting messages it names behave as it says.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from fakes.fake_ollama import FakeOllama
from ocodex.ollama.urls import endpoint_hint, oss_base_url

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "ocodex-models-and-ollama-guide.md"

pytestmark = pytest.mark.skipif(not SEED.is_file(), reason=f"the seed guide is not at {SEED} "
                                "(it lives in ../shared/seed/ next to the repository)")

# Lines of the seed's shell blocks that need a real Ollama or a remote host; the SSH tunnel is run for
# real by test_deploy_ssh_tunnel.py and `ollama serve` is what the fake server stands in for.
NOT_OCODEX = ("ollama serve", "ssh -N -L ")


def _shell_blocks() -> list[list[str]]:
    """Each fenced block that is not YAML, as its non-empty lines."""
    if not SEED.is_file():
        return []
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", SEED.read_text(), re.S | re.M)
    return [[line.strip() for line in body.splitlines() if line.strip()]
            for lang, body in blocks if lang not in ("yaml", "yml")]


def _replayable() -> list[list[str]]:
    return [block for block in _shell_blocks() if any(line.startswith("ocodex ") for line in block)]


def _inline_base_urls() -> list[str]:
    text = SEED.read_text() if SEED.is_file() else ""
    return sorted(set(re.findall(r"CODEX_OSS_BASE_URL=(\S+?)`?(?:\s|$)", text)))


def _to_fake(url: str, fake: FakeOllama) -> str:
    """The seed's URL with its port (and a placeholder or remote host) moved to the fake server."""
    parts = urlsplit(url)
    host = parts.hostname if parts.hostname in ("localhost", "127.0.0.1") else "127.0.0.1"
    return urlunsplit(("http", f"{host}:{fake.port_number}", parts.path, "", ""))


def test_the_seed_has_the_commands_this_file_replays() -> None:
    assert len(_replayable()) >= 3  # the local run and the two quick-reference commands
    for block in _shell_blocks():
        for line in block:
            understood = (line.startswith(("ocodex ", "export ", "ollama pull ")) or line == "ollama serve"
                          or line.startswith(NOT_OCODEX))
            assert understood, f"a seed command this test does not know how to replay: {line!r}"


@pytest.mark.parametrize("url", _inline_base_urls())
def test_every_base_url_the_seed_shows_is_accepted(url: str) -> None:
    concrete = url.replace("<pc-ip>", "192.0.2.10")
    assert oss_base_url({"CODEX_OSS_BASE_URL": concrete}) == (concrete, "CODEX_OSS_BASE_URL")
    assert endpoint_hint(concrete) is None


@pytest.mark.parametrize("block", _replayable(), ids=lambda block: " | ".join(block))
def test_each_seed_block_runs_as_written(ocodex, fake: FakeOllama, block: list[str]) -> None:
    env: dict[str, str] = {}
    fake.models[:] = ["gpt-oss:20b"]
    for line in block:
        if line.startswith(NOT_OCODEX) or line == "ollama serve":
            continue
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = _to_fake(value, fake) if name == "CODEX_OSS_BASE_URL" else value
            continue
        words = shlex.split(line)
        if words[:2] == ["ollama", "pull"]:
            words = ["ocodex", *words[1:]]  # the seed's pre-pull, done by ocodex
        run = ocodex(*words[1:], env=env)
        assert run.returncode == 0, (line, run.stdout, run.stderr)
        if words[1] == "pull":
            assert words[2] in fake.models
            continue
        # `-- json "Your prompt"`: Codex exec's word form of --json, so stdout is JSONL events only.
        events = run.events()
        assert events[0]["type"] == "thread.started" and events[-1]["type"] == "turn.completed", line
        request = fake.chat_requests[-1]
        assert request["messages"][-1]["content"] == words[-1]
        model = words[words.index("-m") + 1] if "-m" in words else "gpt-oss:20b"  # 16 GiB test host
        assert request["model"] == model


def test_the_seeds_ollama_pull_steps_work_as_ocodex_pull(ocodex, fake: FakeOllama) -> None:
    pulls = [shlex.split(line)[2:] for block in _shell_blocks() for line in block if line.startswith("ollama pull ")]
    assert pulls, "the seed's pull step"
    for models in pulls:
        run = ocodex("pull", *models)
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines() == [f"pulled {model}" for model in models]
        assert set(models) <= set(fake.models)


@pytest.mark.parametrize(("ram_gib", "model"), [("64", "gpt-oss:120b"), ("63", "gpt-oss:20b")])
def test_the_oss_default_follows_host_memory_and_is_pulled_if_missing(ocodex, fake, ram_gib: str,
                                                                      model: str) -> None:
    # "hosts with >= 64 GiB RAM default to gpt-oss:120b; otherwise, gpt-oss:20b" and
    # "checks that the selected model is present on the Ollama server and pulls it if missing".
    fake.models[:] = []
    run = ocodex("exec", "--oss", "--", "json", "Your prompt", env={"OCODEX_HOST_MEMORY_GIB": ram_gib})
    assert run.returncode == 0, run.stderr
    assert fake.chat_requests[-1]["model"] == model and model in fake.models
    assert "pulling" in run.stderr and "success" in run.stderr


def test_codex_oss_port_changes_only_the_port(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "--", "json", "Your prompt",
                 env={"CODEX_OSS_BASE_URL": "", "CODEX_OSS_PORT": str(fake.port_number)})
    assert run.returncode == 0, run.stderr
    assert f"provider: oss at http://localhost:{fake.port_number}/v1 (CODEX_OSS_PORT)" in run.stderr
    assert len(fake.chat_requests) == 1


def test_the_openai_provider_needs_the_openai_flag(ocodex, fake) -> None:
    # `-c model_provider=openai`: use the OpenAI provider (requires `--openai`). The "OpenAI" server
    # here is the fake (OPENAI_BASE_URL), so nothing leaves the machine.
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-test"}
    refused = ocodex("exec", "-c", "model_provider=openai", "--", "json", "Your prompt", env=env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "needs --openai" in refused.stderr and "Traceback" not in refused.stderr
    assert fake.requests == []
    allowed = ocodex("exec", "--openai", "-c", "model_provider=openai", "-m", "gpt-oss:20b", "--", "json",
                     "Your prompt", env=env)
    assert f"provider: openai at {fake.base_url}" in allowed.stderr
    assert any(request.path == "/v1/responses" for request in fake.requests)


def test_ollama_models_is_checked_by_doctor(ocodex, fake, tmp_path: Path) -> None:
    # "Override location with OLLAMA_MODELS=/path/to/models": doctor reports the volume and its space.
    models = tmp_path / "fastdisk" / "ollama"
    missing = ocodex("doctor", env={"OLLAMA_MODELS": str(models)})
    assert f"OLLAMA_MODELS={models} does not exist here" in missing.stdout
    models.mkdir(parents=True)
    found = ocodex("doctor", env={"OLLAMA_MODELS": str(models)})
    assert f"models in {models} (" in found.stdout


def test_troubleshooting_messages_are_the_seeds(ocodex, fake) -> None:
    with FakeOllama() as stopped:
        down = stopped.base_url
    run = ocodex("exec", "--oss", "--", "json", "Your prompt", env={"CODEX_OSS_BASE_URL": down})
    assert run.returncode == 1 and run.stdout == ""
    assert "No running Ollama server detected" in run.stderr and "CODEX_OSS_BASE_URL" in run.stderr
    wrong = ocodex("doctor", env={"CODEX_OSS_BASE_URL": fake.root})
    assert wrong.returncode == 1
    assert "Wrong endpoint used: for OSS via Ollama the base URL should look like http://host:11434/v1" \
        in wrong.stdout
