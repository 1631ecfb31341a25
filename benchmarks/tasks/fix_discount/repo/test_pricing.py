import pytest

from pricing import apply_discount, with_tax


def test_discount():
    assert apply_discount(80.0, 25) == 60.0


def test_discount_range():
    with pytest.raises(ValueError):
        apply_discount(10, 120)


def test_tax():
    assert with_tax(10.0) == 12.0
