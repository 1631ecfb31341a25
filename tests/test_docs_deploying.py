"""docs/deploying.md: every `ocodex` command in it parses, the management ones run against the fake
server in the page's order, and every deploy/ path it names exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ocodex.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs/deploying.md"
RUN_HERE = {"models", "oss", "pull", "show", "ps", "rm", "doctor", "bench"}


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part.strip())
                if words and words[0] == "ocodex":
                    commands.append(words[1:])
    return commands


def test_the_page_shows_every_management_command() -> None:
    used = {words[0] for words in _commands()}
    assert {"doctor", "models", "oss", "pull", "show", "ps", "rm", "bench", "tunnel", "exec"} <= used


@pytest.mark.parametrize("words", _commands(), ids=" ".join)
def test_every_command_parses(words: list[str]) -> None:
    args, extras = build_parser().parse_known_args(words)
    assert args.command == words[0]
    assert not extras or words[0] == "exec"


def test_the_management_commands_run_in_the_pages_order(ocodex, fake) -> None:
    fake.models.append("llama3.1:8b")
    ran = 0
    for words in _commands():
        if words[0] not in RUN_HERE:
            continue
        run = ocodex(*words)
        assert run.returncode == 0, (words, run.stdout, run.stderr)
        ran += 1
    assert ran >= 10


def test_every_deploy_path_named_exists() -> None:
    paths = set(re.findall(r"deploy/[\w./-]+", DOC.read_text()))
    made_by_the_operator = {"deploy/certs", "deploy/htpasswd", "deploy/certs/tls.key", "deploy/certs/tls.crt"}
    for path in sorted(paths - made_by_the_operator):
        assert (ROOT / path.rstrip(".")).exists(), path
