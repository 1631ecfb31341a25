import db


def exists(user_id):
    return db.get_user(user_id) is not None
