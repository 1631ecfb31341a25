from datetime import date

from events import Event
from render import render


def test_location_shown():
    events = [Event("Retro", date(2025, 3, 7)), Event("Standup", date(2025, 3, 1), "Room 4")]
    assert render(events) == "2025-03-01 Standup @ Room 4\n2025-03-07 Retro"


def test_location_defaults_to_none():
    event = Event("Party", date(2025, 5, 5))
    assert event.location is None
    assert render([event]) == "2025-05-05 Party"
    assert render([Event(name="Demo", day=date(2025, 1, 2), location="Hall")]) == "2025-01-02 Demo @ Hall"
