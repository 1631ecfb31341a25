"""Counting items in stock."""


class Inventory:
    """Items and how many of each are in stock (see docs/inventory.md)."""
