from inventory import Inventory


def test_add_and_count():
    stock = Inventory()
    stock.add("apple", 3)
    assert stock.count("apple") == 3
