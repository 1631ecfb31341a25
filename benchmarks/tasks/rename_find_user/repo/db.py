"""A tiny in-memory user table."""

USERS = [{"id": 1, "name": "ann"}, {"id": 2, "name": "bo"}]


def get_user(user_id):
    """The user with this id, or None."""
    for user in USERS:
        if user["id"] == user_id:
            return user
    return None
