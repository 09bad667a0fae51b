"""Logging filters for the project's LOGGING setting."""

import logging


class AxesWithoutRequestFilter(logging.Filter):
    """Drop django-axes' complaint that a failed login came without a request.

    django-axes guards only the admin's login (``AXES_ONLY_ADMIN_SITE``). The API's login authenticates
    without a request, on purpose (it has its own throttles), and for each wrong password there axes logs
    two ERROR lines that no operator can act on. Every other axes message passes.
    """

    MESSAGES = ("does not function without a request", "can not set request attributes to a None request")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.MESSAGES)
