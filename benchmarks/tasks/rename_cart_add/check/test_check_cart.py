import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def test_old_name_is_gone():
    for path in ROOT.rglob("*.py"):
        if not path.name.startswith("test_check_"):
            assert not re.search(r"\badd_item\b", path.read_text()), f"{path.name} still says add_item"


def test_method_renamed():
    from cart import Cart

    cart = Cart()
    cart.add("jam", 2.5, quantity=2)
    cart.add("bread", 1.0)
    assert cart.total() == 6.0
    assert not hasattr(Cart, "add_item")


def test_shop_runs():
    proc = subprocess.run([sys.executable, "shop.py"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2 lines, total 11.50\n"
