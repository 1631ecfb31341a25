"""Model providers: one streaming interface, one adapter per wire format."""
