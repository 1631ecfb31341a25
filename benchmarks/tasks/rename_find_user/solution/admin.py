import db


def exists(user_id):
    return db.find_user(user_id) is not None
