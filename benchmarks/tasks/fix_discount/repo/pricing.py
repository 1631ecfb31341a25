"""Prices and discounts."""


def apply_discount(price, percent):
    """The price after taking `percent` percent off, rounded to cents."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return round(price * percent / 100, 2)


def with_tax(price, rate=0.2):
    """The price with tax added, rounded to cents."""
    return round(price * (1 + rate), 2)
