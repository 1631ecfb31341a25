import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SCRIPT = 'convert.py'


def run(*args, cwd):
    proc = subprocess.run([sys.executable, str(ROOT / SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30)
    return proc.returncode, proc.stdout


@pytest.fixture


def here(tmp_path):
    return tmp_path


def test_default_one_decimal(here):
    assert run("100", cwd=here) == (0, "37.8\n")
    assert run("32", cwd=here) == (0, "0.0\n")


def test_precision(here):
    assert run("100", "--precision", "3", cwd=here) == (0, "37.778\n")
    assert run("--precision", "0", "100", cwd=here) == (0, "38\n")
    assert run("212", "--precision", "2", cwd=here) == (0, "100.00\n")
