"""Check the database after a load: counters equal fresh counts, every home feed holds exactly the posts it
should (apps/dispense/consistency.py). Exit status 1 on any difference, or on fan-out jobs still open.

    manage.py check_consistency --wait 120
"""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from apps.dispense.consistency import MAX_REPORTED, consistency_check


class Command(BaseCommand):
    help = "Counters against fresh counts and every home feed against the graph; non-zero exit on a difference."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for open fan-out jobs")

    def handle(self, *args, wait: float, **options):
        with tqdm(desc="Checking feeds", unit="user", file=self.stderr) as bar:
            report = consistency_check(wait_seconds=wait, progress=bar.update)
        self.stdout.write(
            f"{report.users} users, {report.posts} posts, {report.feeds_checked} feeds checked; "
            f"{len(report.counter_errors)} counter errors, {len(report.feed_errors)} feed errors, "
            f"{report.open_jobs} fan-out jobs still open."
        )
        for line in (report.counter_errors + report.feed_errors)[:MAX_REPORTED]:
            self.stdout.write(f"  {line}")
        if not report.ok:
            self.stderr.write(self.style.ERROR("Inconsistent."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("Consistent."))
