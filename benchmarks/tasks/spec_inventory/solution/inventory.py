"""Counting items in stock."""


class Inventory:
    """Items and how many of each are in stock (see docs/inventory.md)."""

    def __init__(self):
        self._stock = {}

    def add(self, item, quantity=1):
        if not isinstance(quantity, int) or quantity < 1:
            raise ValueError("quantity must be a positive integer")
        self._stock[item] = self._stock.get(item, 0) + quantity

    def remove(self, item, quantity=1):
        if not isinstance(quantity, int) or quantity < 1:
            raise ValueError("quantity must be a positive integer")
        if item not in self._stock:
            raise KeyError(item)
        if quantity > self._stock[item]:
            raise ValueError(f"only {self._stock[item]} {item} in stock")
        self._stock[item] -= quantity
        if self._stock[item] == 0:
            del self._stock[item]

    def count(self, item):
        return self._stock.get(item, 0)

    def items(self):
        return sorted(self._stock.items())

    def total(self):
        return sum(self._stock.values())
