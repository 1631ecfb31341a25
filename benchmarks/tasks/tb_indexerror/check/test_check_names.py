import subprocess
import sys
from pathlib import Path

from names import initials

ROOT = Path(__file__).resolve().parent


def test_initials():
    assert initials("Ada  Lovelace") == "AL"
    assert initials("  grace   hopper ") == "GH"
    assert initials("alan turing") == "AT"
    assert initials("") == ""


def test_script():
    proc = subprocess.run([sys.executable, "names.py", "Ada  Lovelace"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "AL\n"
