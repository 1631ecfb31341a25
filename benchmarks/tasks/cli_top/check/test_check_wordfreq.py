import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SCRIPT = 'wordfreq.py'


def run(*args, cwd):
    proc = subprocess.run([sys.executable, str(ROOT / SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30)
    return proc.returncode, proc.stdout


@pytest.fixture


def here(tmp_path):
    (tmp_path / "poem.txt").write_text("the rain the wind\nthe rain falls\na wind\n")
    return tmp_path


def test_all_words_by_default(here):
    assert run("poem.txt", cwd=here) == (0, "the 3\nrain 2\nwind 2\na 1\nfalls 1\n")


def test_top(here):
    assert run("poem.txt", "--top", "2", cwd=here) == (0, "the 3\nrain 2\n")
    assert run("--top", "1", "poem.txt", cwd=here) == (0, "the 3\n")
    assert run("poem.txt", "--top", "10", cwd=here) == (0, "the 3\nrain 2\nwind 2\na 1\nfalls 1\n")


def test_top_needs_a_number(here):
    code, _ = run("poem.txt", "--top", "many", cwd=here)
    assert code != 0
