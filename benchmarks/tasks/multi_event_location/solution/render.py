"""Text listings of events."""


def render(events):
    """One line per event, earliest first: `YYYY-MM-DD name`."""
    ordered = sorted(events, key=lambda event: event.day)
    lines = []
    for event in ordered:
        line = f"{event.day.isoformat()} {event.name}"
        if event.location is not None:
            line += f" @ {event.location}"
        lines.append(line)
    return "\n".join(lines)
