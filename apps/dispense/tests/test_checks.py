import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apps.dispense.checks import background_jobs_can_run


@pytest.mark.parametrize(
    "debug, embedded, worker, expected",
    [
        (False, True, False, ["dispense.E001"]),  # production, no broker, nothing runs jobs
        (False, True, True, []),  # make run: the serving process runs them
        (False, False, False, []),  # Redis: rundramatiq workers run them
        (True, True, False, []),  # development: make dev starts the embedded worker itself
    ],
)
def test_deploy_check_refuses_a_process_where_no_job_would_run(settings, debug, embedded, worker, expected):
    settings.DEBUG, settings.DRAMATIQ_EMBEDDED, settings.EMBEDDED_WORKER = debug, embedded, worker

    assert [message.id for message in background_jobs_can_run(None)] == expected


def test_check_deploy_fails_on_it(settings):
    settings.DEBUG, settings.DRAMATIQ_EMBEDDED, settings.EMBEDDED_WORKER = False, True, False

    with pytest.raises(SystemCheckError, match="dispense.E001"):
        call_command("check", "--deploy", "--fail-level", "ERROR")
