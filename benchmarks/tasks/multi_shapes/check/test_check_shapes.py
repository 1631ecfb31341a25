import math

from shapes import Circle, Rectangle
from summary import total_area, total_perimeter


def test_perimeters():
    assert Rectangle(2, 3).perimeter() == 10
    assert Rectangle(0.5, 4).perimeter() == 9
    assert math.isclose(Circle(1).perimeter(), 2 * math.pi)
    assert math.isclose(Circle(2.5).perimeter(), 5 * math.pi)


def test_total_perimeter():
    assert math.isclose(total_perimeter([Rectangle(1, 1), Circle(1)]), 4 + 2 * math.pi)
    assert total_perimeter([]) == 0


def test_areas_unchanged():
    assert Rectangle(2, 3).area() == 6
    assert math.isclose(total_area([Rectangle(1, 1), Circle(1)]), 1 + math.pi)
