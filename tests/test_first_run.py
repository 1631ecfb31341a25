"""The first five minutes (issue 13 §3): what a newcomer reads and runs first says what is true.

README's command 1 is the embedded demo, labelled, with Python >= 3.11 said first; the demo task is sound
(check.py fails on the shipped code and passes once `mean` is fixed); the context rule has one wording in
README, the run-time line and doctor; `exec --help` says what a first word `json` does, and it does it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ocodex.context_window import rule_text

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def first_shell_block() -> str:
    return README.split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.mark.fast
def test_readme_starts_with_the_python_version_and_the_embedded_demo() -> None:
    head = README[:README.index("```sh")]
    assert "Python 3.11 or newer" in head
    block = first_shell_block()
    assert "python3 -m venv .venv && .venv/bin/pip install -e '.[local]' && scripts/demo" in block
    assert "# 2. For contributors:" in block and "scripts/test" in block
    assert 'export PATH="$PWD/.venv/bin:$PATH"' in README
    assert "pipx install '.[local]'" in README and "uv tool install '.[local]'" in README
    order = [README.index(word) for word in ("1. **Embedded**", "2. **Ollama**", "3. **A remote Ollama**")]
    assert order == sorted(order)
    assert "the seed guide's form" not in README and "a first word `json` means --json output" in README


@pytest.mark.fast
def test_the_context_rule_has_one_wording_in_the_readme() -> None:
    assert rule_text() in README.replace("\n", " ")
    assert "built for 7B–120B models on Ollama's small default context" not in README  # the old contradiction


@pytest.mark.fast
def test_the_demo_task_is_sound(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    shutil.copytree(ROOT / "examples" / "demo", demo)
    broken = subprocess.run([sys.executable, "check.py"], cwd=demo, capture_output=True, text=True)
    assert broken.returncode != 0 and "mean([2, 4, 6]) should be 4" in broken.stderr
    stats = demo / "stats.py"
    stats.write_text(stats.read_text().replace("(len(values) - 1)", "len(values)"))
    fixed = subprocess.run([sys.executable, "check.py"], cwd=demo, capture_output=True, text=True)
    assert fixed.returncode == 0 and fixed.stdout == "ok\n"


def test_the_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("mine")
    run = subprocess.run([str(ROOT / "scripts" / "demo"), str(tmp_path)], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "OCODEX": sys.executable}, timeout=60)
    assert run.returncode == 2 and "is not empty" in run.stderr
    assert (tmp_path / "something").read_text() == "mine" and not (tmp_path / ".git").exists()


def test_exec_help_and_behaviour_agree_on_json(ocodex, fake) -> None:
    help_text = re.sub(r"\s+", " ", ocodex("exec", "--help").stdout)
    assert "A first word `json` before the prompt (`exec -- json \"PROMPT\"`" in help_text
    assert "means --json output" in help_text and "always prompt" not in help_text
    run = ocodex("exec", "--oss", "--", "json", "say hi")
    assert run.returncode == 0, run.stderr
    assert next(e["type"] for e in run.events()) == "thread.started"  # JSON lines on stdout
    resume = ocodex("exec", "--oss", "--", "resume", "the work")  # after --, `resume` is prompt text
    assert resume.returncode == 0 and "resume the work" in fake.chat_requests[-1]["messages"][-1]["content"]


def test_the_no_server_message_matches_the_readme(ocodex) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = ocodex("exec", "--oss", "say hi", env={"CODEX_OSS_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()[-3:]
    shown = README.split("exits with code 1 and says", 1)[1].split("```\n", 1)[1].split("```", 1)[0].splitlines()
    assert lines[0] == shown[0].replace("localhost:11434", f"127.0.0.1:{port}")
    assert lines[1].startswith("hint: Start it with `ollama serve`") and shown[1].startswith(lines[1][:40])
    assert f"docker compose -f {ROOT / 'deploy' / 'docker-compose.yml'} up -d" in lines[1]
    assert lines[2] == shown[2]  # the one extra line, word for word


def test_a_missing_default_names_the_installed_tool_model_and_still_pulls(ocodex, fake) -> None:
    fake.models[:] = ["qwen3:8b", "gemma3:1b"]
    fake.version = "0.30.0"  # /api/tags lists capabilities
    fake.capabilities = {"gemma3:1b": ["completion"], "qwen3:8b": ["completion", "tools"]}
    run = ocodex("exec", "--oss", "say hi")
    assert run.returncode == 0, run.stderr
    assert ("warning: gpt-oss:20b (the default for --oss) is not on the server, but qwen3:8b is and calls tools: "
            "`-m qwen3:8b` runs it without a download") in run.stderr
    assert "Pulling model gpt-oss:20b" in run.stderr  # in a script, pulled as the seed guide says
    named = ocodex("exec", "--oss", "-m", "llama3.1:8b", "say hi")  # the user's own choice: no advice
    assert "is not on the server, but" not in named.stderr
