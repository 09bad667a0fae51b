"""Placeholder replaced by the Facebook login module."""


def facebook_login(*, request, access_token, device_id):
    raise RuntimeError("pending")


def facebook_link(*, request, user, access_token):
    raise RuntimeError("pending")


def create_user(*args, **kwargs):
    return None
