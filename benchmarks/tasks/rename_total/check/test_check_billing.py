import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def test_old_name_is_gone():
    for path in ROOT.rglob("*.py"):
        if not path.name.startswith("test_check_"):
            assert not re.search(r"\bcalc_total\b", path.read_text()), f"{path.name} still says calc_total"


def test_new_name():
    import billing
    from invoice import render_invoice

    assert billing.invoice_total([("a", 2, 1.25), ("b", 1, 3.0)]) == 5.5
    assert not hasattr(billing, "calc_total")
    assert render_invoice("X", [("a", 2, 1.25)]).endswith("Total: 2.50")


def test_main_prints_the_same():
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Invoice for ACME\n  pen x3 @ 1.50\n  pad x2 @ 4.25\nTotal: 13.00\ncheck: 13.00\n"
