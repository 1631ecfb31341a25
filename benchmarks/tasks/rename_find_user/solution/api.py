from db import find_user


def user_name(user_id):
    user = find_user(user_id)
    return user["name"] if user else "unknown"
