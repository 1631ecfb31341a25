"""Checks stats.py: prints "ok" and exits 0 when every check passes."""

from stats import mean, spread

assert mean([2, 4, 6]) == 4, f"mean([2, 4, 6]) should be 4, got {mean([2, 4, 6])}"
assert mean([5]) == 5, f"mean([5]) should be 5, got {mean([5])}"
assert spread([3, 9, 1]) == 8
print("ok")
