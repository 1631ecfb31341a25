"""Shop settings."""

TAX_RATE = 0.2
