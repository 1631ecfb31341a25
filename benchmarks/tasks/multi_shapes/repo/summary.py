"""Totals over collections of shapes."""


def total_area(shapes):
    return sum(shape.area() for shape in shapes)
