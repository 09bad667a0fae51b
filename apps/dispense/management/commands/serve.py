"""runserver, plus the embedded Dramatiq worker and scheduler when no broker URL is set (`make run`)."""

from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand

from apps.dispense import embedded


class Command(RunserverCommand):
    help = "Serve the API (runserver) with the embedded background worker when DRAMATIQ_BROKER_URL is unset."

    def inner_run(self, *args, **options):
        # inner_run runs in the serving process (the autoreloader's child), where the StubBroker lives.
        worker = embedded.start()
        if worker is not None:
            self.stdout.write(f"Embedded worker started with {worker.worker_threads} threads.")
        return super().inner_run(*args, **options)
