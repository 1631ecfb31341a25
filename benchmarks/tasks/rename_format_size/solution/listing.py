from textutil import format_size


def describe(name, size):
    return f"{name:<10} {format_size(size):>10}"
