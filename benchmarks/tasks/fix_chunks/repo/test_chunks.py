import pytest

from chunks import chunked


def test_even():
    assert chunked([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_last_chunk_shorter():
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_bad_size():
    with pytest.raises(ValueError):
        chunked([1], 0)
