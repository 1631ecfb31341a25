import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SCRIPT = 'todo.py'


def run(*args, cwd):
    proc = subprocess.run([sys.executable, str(ROOT / SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30)
    return proc.returncode, proc.stdout


@pytest.fixture


def here(tmp_path):
    (tmp_path / "todos.txt").write_text("[x] buy milk\n[ ] call Sam\n[ ] fix the bike\n")
    return tmp_path


def test_listing_unchanged(here):
    assert run("todos.txt", cwd=here) == (0, "1. [x] buy milk\n2. [ ] call Sam\n3. [ ] fix the bike\n")


def test_json(here):
    code, out = run("todos.txt", "--json", cwd=here)
    assert code == 0
    assert json.loads(out) == [
        {"id": 1, "text": "buy milk", "done": True},
        {"id": 2, "text": "call Sam", "done": False},
        {"id": 3, "text": "fix the bike", "done": False},
    ]


def test_json_option_first(here):
    path = here / "t.txt"
    path.write_text("[ ] a\n")
    code, out = run("--json", str(path), cwd=here)
    assert code == 0 and json.loads(out) == [{"id": 1, "text": "a", "done": False}]
