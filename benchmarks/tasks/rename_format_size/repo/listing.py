from textutil import fmt_size


def describe(name, size):
    return f"{name:<10} {fmt_size(size):>10}"
