import pytest

from slug import slugify


@pytest.mark.parametrize("title, max_length, slug", [
    ("Hello, World!", 40, "hello-world"),
    ("  Python 3.12 is out  ", 40, "python-3-12-is-out"),
    ("Ünïcode", 40, "n-code"),
    ("hello world", 6, "hello"),
    ("!!!", 40, ""),
    ("", 40, ""),
    ("a" * 50, 40, "a" * 40),
    ("Ten   Tips -- for   Cats", 40, "ten-tips-for-cats"),
    ("abc def", 5, "abc-d"),
])


def test_slugify(title, max_length, slug):
    assert slugify(title, max_length) == slug


def test_default_max_length():
    assert slugify("word " * 20) == ("word-" * 8).rstrip("-")
