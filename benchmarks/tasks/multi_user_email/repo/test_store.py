from store import load, save
from user import User


def test_round_trip(tmp_path):
    path = tmp_path / "users.txt"
    save([User("Ann")], path)
    assert load(path) == [User("Ann")]
