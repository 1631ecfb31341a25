import subprocess
import sys
from pathlib import Path

from progress import percent_done

ROOT = Path(__file__).resolve().parent


def test_percent():
    assert percent_done(0, 0) == 100.0
    assert percent_done(1, 4) == 25.0
    assert percent_done(1, 3) == 33.3
    assert percent_done(0, 5) == 0.0


def test_script():
    proc = subprocess.run([sys.executable, "progress.py", "0", "0"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "100.0% done\n"
