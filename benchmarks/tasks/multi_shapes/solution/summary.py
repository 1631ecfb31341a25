"""Totals over collections of shapes."""


def total_area(shapes):
    return sum(shape.area() for shape in shapes)


def total_perimeter(shapes):
    return sum(shape.perimeter() for shape in shapes)
