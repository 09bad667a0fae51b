"""Delete stored Idempotency-Key answers older than 24 hours."""

from django.core.management.base import BaseCommand

from apps.common.idempotency import idempotency_records_purge


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key answers older than the 24 h replay window."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args, dry_run: bool = False, **options):
        count = idempotency_records_purge(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {count} idempotency record(s).")
