"""Re-send failed and stuck feed jobs (also run every 5 minutes by the scheduler)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from tqdm import tqdm

from apps.dispense import services


class Command(BaseCommand):
    help = "Re-send dispense jobs that failed, made no progress for a while, or whose message never left."

    def add_arguments(self, parser):
        parser.add_argument(
            "--stuck-after", type=int, default=settings.DISPENSE_STUCK_AFTER_SECONDS,
            help="Seconds without progress after which a running job counts as stuck (default: %(default)s).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be re-sent.")

    def handle(self, *args, stuck_after: int, dry_run: bool, **options):
        if dry_run:
            found = services.jobs_to_retry(
                stuck_after=timedelta(seconds=stuck_after), unsent_after=timedelta(minutes=1)
            )
            for group, jobs in found.items():
                self.stdout.write(f"{group}: {len(jobs)} job(s) {', '.join(str(job.pk) for job in jobs)}")
            return
        bar = lambda jobs: tqdm(jobs, desc="Re-sending jobs", unit="job", file=self.stderr)  # noqa: E731
        summary = services.jobs_retry(stuck_after=timedelta(seconds=stuck_after), progress=bar)
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-sent {summary.messages} message(s): {summary.failed_jobs} failed, "
                f"{summary.stuck_jobs} stuck and {summary.unsent_jobs} never-sent job(s)."
            )
        )
