"""Saving users to a text file, one per line."""

from user import User


def save(users, path):
    with open(path, "w") as f:
        for user in users:
            f.write(f"{user.name}\n")


def load(path):
    with open(path) as f:
        return [User(line.rstrip("\n")) for line in f if line.strip()]
