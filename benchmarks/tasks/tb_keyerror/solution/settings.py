"""Reading settings from a parsed config.json."""


def connect_timeout(config):
    """Seconds to wait for a connection."""
    return config.get("timeout", 30)
