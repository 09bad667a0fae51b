"""Delete a user and everything of theirs, the way the admin does: through ``user_delete``.

Their posts go with their files, likes, comments and feed entries (removal jobs), their
likes and comments on other posts with those posts' counts, their follows both ways with
everyone else's counters, their home feed, their tokens and devices and their profile
picture. ``--dry-run`` runs the whole deletion and rolls it back, printing what it would remove.

    manage.py delete_user 42 --dry-run
    manage.py delete_user ada@example.com --yes
"""

from django.core.management.base import BaseCommand, CommandError

from apps.accounts import services
from apps.accounts.models import User


def _find(key: str) -> User:
    key = key.strip()
    if "@" in key:
        users = User.objects.filter(email=key.lower())
    elif key.isascii() and key.isdigit():
        users = User.objects.filter(pk=int(key))
    else:
        raise CommandError(f"Give a user id or an email address, not {key!r}.")
    user = users.first()
    if user is None:
        raise CommandError(f"No user {key!r}.")
    return user


class Command(BaseCommand):
    help = (
        "Delete a user (by id or email) with their posts, likes, comments, follows, feed, tokens and files, "
        "keeping everyone else's counters and feeds right. --dry-run only reports what would go."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="The user's id or email address.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would be removed; change nothing.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, user: str, dry_run: bool, yes: bool, **options):
        target = _find(user)
        label = f"user {target.pk} ({target.email})"
        if not dry_run and not yes:
            answer = input(f"Delete {label} and everything of theirs? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing deleted.")
        removed = services.user_delete(user=target, dry_run=dry_run)
        self.stdout.write(f"{'Would delete' if dry_run else 'Deleted'} {label}:")
        for what, count in removed.items():
            self.stdout.write(f"  {what}: {count}")
        if not dry_run:
            self.stdout.write(self.style.SUCCESS("Done; feed removal jobs run in the background."))
