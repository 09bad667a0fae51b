"""Delete request and error logs older than N days, in batches (also run daily by the scheduler).

Counters (per endpoint, per region) stay. With LOGS_STORE=cassandra the logs expire by their TTL and
there is nothing to delete.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.analytics import selectors, services


class Command(BaseCommand):
    help = "Delete request and error logs older than --days (default ANALYTICS_LOG_RETENTION_DAYS); counters stay."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.ANALYTICS_LOG_RETENTION_DAYS,
                            help="keep this many days of logs (default %(default)s)")
        parser.add_argument("--batch-size", type=int, default=5000, help="rows deleted per statement")
        parser.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")

    def handle(self, *args, days: int, batch_size: int, dry_run: bool, **options):
        if days < 0 or batch_size < 1:
            raise CommandError("--days must be 0 or more and --batch-size at least 1.")
        older_than = timedelta(days=days)
        total = selectors.logs_older_count(older_than=older_than)
        if dry_run:
            self.stdout.write(f"Would delete {total} log row(s) older than {days} day(s).")
            return
        with tqdm(total=total, desc="Pruning logs", unit="row", file=self.stderr) as bar:
            removed = services.logs_prune(older_than=older_than, batch_size=batch_size, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"Deleted {removed} log row(s) older than {days} day(s)."))
