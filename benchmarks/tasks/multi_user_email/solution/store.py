"""Saving users to a text file, one per line."""

from user import User


def save(users, path):
    with open(path, "w") as f:
        for user in users:
            f.write(f"{user.name},{user.email}\n")


def load(path):
    users = []
    with open(path) as f:
        for line in f:
            if line.strip():
                name, email = line.rstrip("\n").split(",", 1)
                users.append(User(name, email))
    return users
