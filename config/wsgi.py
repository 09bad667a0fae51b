"""WSGI entry point (gunicorn: see config/gunicorn.py and docs/deployment.md)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _start_embedded_worker() -> None:
    """With no broker and EMBEDDED_WORKER on, this serving process runs the worker and scheduler too.

    Runs where the application is loaded: in each gunicorn worker after the fork (so never use
    --preload with it: threads do not survive a fork), which is why it must be a single process.
    """
    from django.conf import settings

    if settings.DRAMATIQ_EMBEDDED and settings.EMBEDDED_WORKER:
        from apps.dispense import embedded

        embedded.start()


_start_embedded_worker()
