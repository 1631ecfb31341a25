import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SCRIPT = 'lines.py'


def run(*args, cwd):
    proc = subprocess.run([sys.executable, str(ROOT / SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30)
    return proc.returncode, proc.stdout


@pytest.fixture


def here(tmp_path):
    (tmp_path / "notes.txt").write_text("first\nsecond\nthird\n")
    return tmp_path


def test_plain_and_number_unchanged(here):
    assert run("notes.txt", cwd=here) == (0, "first\nsecond\nthird\n")
    assert run("notes.txt", "--number", cwd=here) == (0, "1: first\n2: second\n3: third\n")


def test_reverse(here):
    assert run("notes.txt", "--reverse", cwd=here) == (0, "third\nsecond\nfirst\n")


def test_reverse_keeps_numbers(here):
    assert run("notes.txt", "--reverse", "--number", cwd=here) == (0, "3: third\n2: second\n1: first\n")
    assert run("--number", "--reverse", "notes.txt", cwd=here) == (0, "3: third\n2: second\n1: first\n")
