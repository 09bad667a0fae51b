"""Register the OAuth client whose credentials let bots past the per-IP signup and login limits.

    manage.py bot_client shutter-bots            # prints BOT_CLIENT_ID and a new BOT_CLIENT_SECRET
    manage.py bot_client shutter-bots --secret S # sets a chosen secret (CI)

The client counts as a bot only once its id is in the server's BOT_CLIENT_IDS (apps/common/throttling.py).
Running it again for the same id gives the client a new secret; the old one stops working.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import tokens


class Command(BaseCommand):
    help = "Create the bots' confidential OAuth client (or give it a new secret) and print its credentials."

    def add_arguments(self, parser):
        parser.add_argument("client_id", help="The client id, e.g. shutter-bots.")
        parser.add_argument("--name", default="", help="A name shown in the admin.")
        parser.add_argument("--secret", default=None, help="Use this secret instead of a generated one.")

    def handle(self, *args, client_id: str, name: str, secret: str | None, **options):
        try:
            plain, created = tokens.bot_client_set(client_id=client_id, name=name, secret=secret)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"BOT_CLIENT_ID={client_id}\nBOT_CLIENT_SECRET={plain}")
        if client_id not in settings.BOT_CLIENT_IDS:
            self.stderr.write(f"Not yet a bot: add {client_id} to the server's BOT_CLIENT_IDS.")
        self.stderr.write("Created." if created else "New secret set; the old one no longer works.")
