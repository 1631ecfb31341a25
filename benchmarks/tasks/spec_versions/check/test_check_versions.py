import pytest

from versions import compare_versions, latest


@pytest.mark.parametrize("a, b, result", [
    ("1.10", "1.9", 1), ("1.9", "1.10", -1), ("1.2", "1.2.0", 0), ("1.2.0", "1.2", 0),
    ("2", "10", -1), ("0.0.1", "0", 1), ("3.4.5", "3.4.5", 0), ("1.0.10", "1.0.9", 1),
])


def test_compare(a, b, result):
    assert compare_versions(a, b) == result


@pytest.mark.parametrize("bad", ["", "1..2", ".1", "1.", "1.2a", "v1", "1.-2", " "])


def test_bad_versions(bad):
    with pytest.raises(ValueError):
        compare_versions(bad, "1")
    with pytest.raises(ValueError):
        compare_versions("1", bad)


def test_latest():
    assert latest(["1.2", "1.10", "1.9"]) == "1.10"
    assert latest(["2.0", "2", "1.99"]) == "2.0"
    assert latest(["0.1"]) == "0.1"
    with pytest.raises(ValueError):
        latest([])
    with pytest.raises(ValueError):
        latest(["1.0", "x"])
