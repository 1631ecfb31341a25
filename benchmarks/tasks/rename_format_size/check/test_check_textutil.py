import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def test_old_name_is_gone():
    for path in ROOT.rglob("*.py"):
        if not path.name.startswith("test_check_"):
            assert not re.search(r"\bfmt_size\b", path.read_text()), f"{path.name} still says fmt_size"


def test_new_name():
    import textutil

    assert textutil.format_size(512) == "512 B"
    assert textutil.format_size(1536) == "1.5 KiB"
    assert not hasattr(textutil, "fmt_size")


def test_report_prints_the_same():
    proc = subprocess.run([sys.executable, "report.py"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("notes.txt       512 B\nphoto.jpg     1.5 KiB\nvideo.mp4     3.0 MiB\n"
                           "total 3.0 MiB\n")
