"""What rank_users and rank_posts share: the progress bar, the service call and the summary."""

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.common.exceptions import ApplicationError
from apps.ranking import periods, services


class RankCommand(BaseCommand):
    option: str  # --week or --day
    what: str  # users or posts
    parse: Callable[..., periods.Period]
    default: Callable[..., periods.Period]
    rank: Callable[..., services.RankSummary]

    def handle(self, *args, **options):
        name = options[self.option]
        try:
            period = type(self).parse(name, field=self.option) if name else type(self).default()
        except ApplicationError as exc:
            raise CommandError(f"--{self.option}: {' '.join(sum((exc.fields or {}).values(), [])) or exc}") from exc
        with tqdm(total=len(services.STEPS), desc=f"Ranking {self.what} of {period.name}", unit="step",
                  file=self.stderr) as bar:
            def progress(step: str) -> None:
                bar.set_postfix_str(step)
                bar.update()

            try:
                summary = type(self).rank(period=period, progress=progress)
            except services.RankingBusy as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(
            f"{summary.period}: {summary.candidates} {self.what} ranked, {summary.entries} entries in "
            f"{summary.scopes} scopes (generation {summary.generation}) in {summary.seconds:.2f} s."
        ))
