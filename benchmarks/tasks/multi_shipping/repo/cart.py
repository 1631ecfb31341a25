"""What a customer pays."""

import settings


def total(prices):
    """The amount to pay for items with these prices, tax included, rounded to cents."""
    subtotal = sum(prices)
    return round(subtotal * (1 + settings.TAX_RATE), 2)
