"""Money owed for line items."""


def calc_total(items):
    """The sum of quantity * unit price over (name, quantity, unit_price) items."""
    return sum(quantity * price for _, quantity, price in items)
