import json
import subprocess
import sys
from pathlib import Path

from settings import connect_timeout

ROOT = Path(__file__).resolve().parent


def test_default_and_set():
    assert connect_timeout({}) == 30
    assert connect_timeout({"host": "x"}) == 30
    assert connect_timeout({"timeout": 5}) == 5


def test_app_runs(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"host": "example.org"}))
    proc = subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "timeout: 30\n"
