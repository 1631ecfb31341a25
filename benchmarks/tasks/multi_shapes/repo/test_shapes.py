import math

from shapes import Circle, Rectangle
from summary import total_area


def test_areas():
    assert Rectangle(2, 3).area() == 6
    assert math.isclose(Circle(1).area(), math.pi)
    assert math.isclose(total_area([Rectangle(1, 1), Circle(1)]), 1 + math.pi)
