from dataclasses import dataclass
from datetime import date


@dataclass
class Event:
    name: str
    day: date
