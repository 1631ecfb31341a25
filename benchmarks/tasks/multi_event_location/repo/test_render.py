from datetime import date

from events import Event
from render import render


def test_sorted_by_day():
    events = [Event("Retro", date(2025, 3, 7)), Event("Standup", date(2025, 3, 1))]
    assert render(events) == "2025-03-01 Standup\n2025-03-07 Retro"
