"""Trim every home feed to DISPENSE_FEED_CAP entries (also run daily by the scheduler)."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from apps.dispense import services


class Command(BaseCommand):
    help = "Trim every user's home feed to the newest DISPENSE_FEED_CAP entries."

    def handle(self, *args, **options):
        with tqdm(desc="Trimming feeds", unit="user", file=self.stderr) as bar:
            removed = services.feeds_trim(progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"Removed {removed} feed entries beyond the cap."))
