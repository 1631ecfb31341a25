"""What a customer pays."""

import settings


def total(prices):
    """The amount to pay for items with these prices, tax included, rounded to cents."""
    subtotal = sum(prices)
    if subtotal < settings.FREE_SHIPPING_FROM:
        subtotal += settings.SHIPPING_FEE
    return round(subtotal * (1 + settings.TAX_RATE), 2)
