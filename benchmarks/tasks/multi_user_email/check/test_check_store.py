from report import describe
from store import load, save
from user import User


def test_round_trip(tmp_path):
    users = [User("Ann", "ann@example.com"), User("Bo", "bo@example.org")]
    path = tmp_path / "users.txt"
    save(users, path)
    assert path.read_text() == "Ann,ann@example.com\nBo,bo@example.org\n"
    assert load(path) == users


def test_load_written_by_hand(tmp_path):
    path = tmp_path / "users.txt"
    path.write_text("Cy,cy@example.net\n")
    assert load(path) == [User(name="Cy", email="cy@example.net")]


def test_describe():
    assert describe(User("Ann", "ann@example.com")) == "Ann <ann@example.com>"
