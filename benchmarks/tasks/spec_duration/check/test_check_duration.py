import pytest

from duration import parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("1h2m3s", 3723), ("0s", 0),
    (" 5s ", 5), ("10h0m1s", 36001), ("2m30s", 150),
])


def test_valid(text, seconds):
    assert parse_duration(text) == seconds
    assert type(parse_duration(text)) is int


@pytest.mark.parametrize("text", ["", "   ", "h", "5x", "1h1h", "1m1h", "-5s", "1h 30m", "5", "1.5h", "s5"])


def test_invalid(text):
    with pytest.raises(ValueError):
        parse_duration(text)
