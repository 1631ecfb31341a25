import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def test_old_name_is_gone():
    for path in ROOT.rglob("*.py"):
        if not path.name.startswith("test_check_"):
            assert not re.search(r"\bget_user\b", path.read_text()), f"{path.name} still says get_user"


def test_behaviour():
    import db
    from admin import exists
    from api import user_name

    assert db.find_user(2) == {"id": 2, "name": "bo"}
    assert db.find_user(5) is None
    assert not hasattr(db, "get_user")
    assert user_name(1) == "ann" and user_name(9) == "unknown"
    assert exists(2) and not exists(3)
