import pytest

from inventory import Inventory


def test_empty():
    stock = Inventory()
    assert stock.items() == [] and stock.total() == 0 and stock.count("pear") == 0


def test_add_remove_items_total():
    stock = Inventory()
    stock.add("pear", 2)
    stock.add("apple")
    stock.add("pear", 3)
    assert stock.count("pear") == 5 and stock.count("apple") == 1
    assert stock.items() == [("apple", 1), ("pear", 5)]
    assert stock.total() == 6
    stock.remove("pear", 4)
    stock.remove("apple")
    assert stock.items() == [("pear", 1)] and stock.total() == 1 and stock.count("apple") == 0


def test_removed_to_zero_is_gone():
    stock = Inventory()
    stock.add("fig", 2)
    stock.remove("fig", 2)
    assert stock.items() == []
    with pytest.raises(KeyError):
        stock.remove("fig")


@pytest.mark.parametrize("quantity", [0, -1])


def test_bad_quantities(quantity):
    stock = Inventory()
    with pytest.raises(ValueError):
        stock.add("kiwi", quantity)
    stock.add("kiwi", 2)
    with pytest.raises(ValueError):
        stock.remove("kiwi", quantity)
    assert stock.count("kiwi") == 2


def test_errors():
    stock = Inventory()
    with pytest.raises(KeyError):
        stock.remove("plum")
    stock.add("plum", 1)
    with pytest.raises(ValueError):
        stock.remove("plum", 2)
    assert stock.count("plum") == 1
