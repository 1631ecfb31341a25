import subprocess
import sys
from pathlib import Path

from report import summary

ROOT = Path(__file__).resolve().parent


def test_summary():
    assert summary("backup", 3) == "Processed 3 files for backup"
    assert summary("sync", 0) == "Processed 0 files for sync"


def test_script():
    proc = subprocess.run([sys.executable, "report.py"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Processed 3 files for backup\n"
