"""Showing users to people."""


def describe(user):
    return user.name
