"""Simulate days of growing use of a Shutter deployment through its public API (apps/bots/simulation.py).

    manage.py run_bots --base-url http://127.0.0.1:8000 --days 2 --cities 4 --scale 20 --concurrency 8
    BOT_CLIENT_ID=shutter-bots BOT_CLIENT_SECRET=... manage.py run_bots --base-url https://api.example.com

Exit status 1 on any 5xx, contract violation, unexpected status or lost write.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from apps.bots.client import Client
from apps.bots.report import print_summary, write_json
from apps.bots.simulation import Knobs, Simulation
from apps.bots.stats import Stats

KNOB_HELP = {
    "days": "simulated days",
    "cities": "cities (the K largest, spread over the continents)",
    "scale": "new users on day one in the largest city (others: by the square root of their population)",
    "growth": "new users grow by this factor each day",
    "celebrity_share": "share of new users who are celebrities",
    "follows_mean": "mean follows of a new user",
    "active_share": "share of users active on a day",
    "post_share": "share of active users who post",
    "celebrity_followers": "the server's DISPENSE_CELEBRITY_FOLLOWERS (classifies the delivery lag as hybrid)",
    "lag_timeout": "seconds a watched post may take to reach a follower's feed",
    "concurrency": "requests in flight",
    "seed": "random seed (the plan; the server's ids and timing still vary)",
}


def add_connection_arguments(parser) -> None:
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", default=os.environ.get("BOT_CLIENT_ID", ""), help="bot OAuth client id")
    parser.add_argument(
        "--client-secret", default=os.environ.get("BOT_CLIENT_SECRET", ""), help="its secret (env BOT_CLIENT_SECRET)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--json", dest="json_file", default=None, help="write the summary to this file")


def make_client(options: dict) -> Client:
    client = Client(
        options["base_url"],
        stats=Stats(),
        client_id=options["client_id"],
        client_secret=options["client_secret"],
        timeout=options["timeout"],
    )
    try:
        client.load_contract()
    except Exception as error:
        raise CommandError(f"Cannot read {options['base_url']}/api/schema/: {error}") from error
    return client


class Command(BaseCommand):
    help = "Simulate N days of growing use in K cities through the public API; print (and --json) a summary."

    def add_arguments(self, parser):
        add_connection_arguments(parser)
        defaults = Knobs()
        for name, text in KNOB_HELP.items():
            default = getattr(defaults, name)
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default, help=text)

    def handle(self, *args, **options):
        client = make_client(options)
        knobs = Knobs(**{name: options[name] for name in KNOB_HELP})
        console = Console(stderr=True)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            summary = Simulation(client, knobs, progress=progress).run()
        print_summary(summary, Console(file=self.stdout, width=140))
        if options["json_file"]:
            write_json(summary, options["json_file"])
        if not summary["ok"]:
            raise SystemExit(1)
