from admin import exists
from api import user_name


def test_user_name():
    assert user_name(1) == "ann"
    assert user_name(9) == "unknown"


def test_exists():
    assert exists(2) and not exists(3)
