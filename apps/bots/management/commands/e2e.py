"""One scripted pass over every endpoint of the contract, asserting each answer (apps/bots/e2e.py).

    manage.py e2e --base-url http://127.0.0.1:8000 [--json FILE]

Prints each step with its statuses and latency; exit status 1 on any failed step, 5xx or contract violation.
"""

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.table import Table

from apps.bots.e2e import EndToEnd
from apps.bots.management.commands.run_bots import add_connection_arguments, make_client
from apps.bots.report import write_json

STYLE = {"ok": "green", "FAIL": "red"}


class Command(BaseCommand):
    help = "Run the end-to-end pass over every endpoint against a server; non-zero exit on any failure."

    def add_arguments(self, parser):
        add_connection_arguments(parser)

    def handle(self, *args, **options):
        client = make_client(options)
        run = EndToEnd(client)
        steps = run.run()
        table = Table(title=f"End to end against {options['base_url']}")
        for column in ("#", "step", "statuses", "ms", "result"):
            table.add_column(column, justify="right" if column in ("#", "ms") else "left")
        for n, step in enumerate(steps, 1):
            result = f"[{STYLE[step.result]}]{step.result}[/] {step.detail}".rstrip()
            table.add_row(str(n), step.name, " ".join(step.statuses), str(step.ms), result)
        console = Console(file=self.stdout, width=160)
        console.print(table)
        summary = client.stats.summary(steps=[vars(step) for step in steps])
        summary["ok"] = not run.failed
        for line in summary["failure_examples"]:
            console.print(f"  {line}", markup=False)
        console.print("[green]e2e: all steps passed" if summary["ok"] else "[red]e2e: FAILED")
        if options["json_file"]:
            write_json(summary, options["json_file"])
        if not summary["ok"]:
            raise SystemExit(1)
