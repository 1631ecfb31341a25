"""One module per command: the wiring from parsed arguments to the core."""
