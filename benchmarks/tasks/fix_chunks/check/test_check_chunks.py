import pytest

from chunks import chunked


def test_chunks():
    assert chunked([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunked([1, 2], 5) == [[1, 2]]
    assert chunked([], 3) == []
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_bad_size():
    with pytest.raises(ValueError):
        chunked([1], 0)
