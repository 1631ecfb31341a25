"""Showing users to people."""


def describe(user):
    return f"{user.name} <{user.email}>"
