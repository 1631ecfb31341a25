"""Tools the model can call: each declared once (schema + handler) in its own module."""
