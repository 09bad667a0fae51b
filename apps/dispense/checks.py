"""Deployment checks: a production process with no way to run background jobs is an error."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility, deploy=True)
def background_jobs_can_run(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """DEBUG off, no broker and no embedded worker: every fan-out, retry and sweep would wait forever."""
    if settings.DEBUG or not settings.DRAMATIQ_EMBEDDED or settings.EMBEDDED_WORKER:
        return []
    return [
        checks.Error(
            "No background job would ever run: DRAMATIQ_BROKER_URL is unset and the embedded worker is off.",
            hint="Set DRAMATIQ_BROKER_URL=redis://... and run `make worker` and `make scheduler`, or set "
            "EMBEDDED_WORKER=1 to run them inside one serving process (gunicorn -c config/gunicorn.py).",
            id="dispense.E001",
        )
    ]
