"""Text listings of events."""


def render(events):
    """One line per event, earliest first: `YYYY-MM-DD name`."""
    ordered = sorted(events, key=lambda event: event.day)
    return "\n".join(f"{event.day.isoformat()} {event.name}" for event in ordered)
