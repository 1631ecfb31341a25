"""Initials of people's names."""

import sys


def initials(full_name):
    """The first letter of each part of the name, in capitals: "ada lovelace" -> "AL"."""
    return "".join(part[0].upper() for part in full_name.split())


if __name__ == "__main__":
    print(initials(sys.argv[1]))
