#!/usr/bin/env python
"""Ranking benchmark: rank_users (a week) and rank_posts (a day) against the bare aggregate, same run, same data.

What it models: a network of ``--users`` users spread over 40 cities of 25 countries (10% with no
location), ``--users / 2`` posts (60% placed), ``--likes`` likes skewed towards popular posts (about
70% in the ranked week, the rest the week before, so the period filter has work to do), a tenth as
many comments, two follows per user (half made in the week) and unfollows for a tenth of the users.
It is seeded with bulk inserts (COPY on PostgreSQL) on the benchmark's own fresh database.

What it measures, in ``--rounds`` rounds (medians shown; ratios are the median of each round's ratio):
- the jobs, exactly as ``manage.py rank_users`` / ``rank_posts`` run them (the services: the claim,
  scoring every candidate into a temporary table, the top of every scope written as a new
  generation, the swap), twice per round: on a period not computed yet (what the scheduler does
  every week and day; the previous round's ranking is dropped untimed first), and again on the
  same period (a re-run, which also deletes the generation it replaces);
- the baseline: the bare aggregate, one GROUP BY counting the same period's likes per recipient
  (``posts_like`` joined with ``posts_post``, grouped by author), wrapped in ``SELECT COUNT(*)`` so
  the database computes every group but nothing travels to Python. It is the cheapest query that
  touches the period's likes the way any ranking must, so "job rate / bare rate" is what the job's
  extra inputs, ordering and writes cost. Rate = the period's likes / seconds. Goal: >= 0.25.
- peak Python memory of each job (tracemalloc, in a separate untimed run) at ``--users`` and at a
  tenth of it (``--small-users``, seeded and ranked first with likes scaled alike). The work is
  done in SQL, so it must not grow with the users. Goal: the big peak within 1.5x the small one.
  (SQLite's own page cache and sorter live in C, outside tracemalloc; they are bounded by SQLite's
  cache_size and temp-file spilling, not by Python.)

    .venv/bin/python bench/rank.py --users 100000 --likes 1000000 [--rounds 3] [--database-url URL]
"""

import argparse
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import harness
from tqdm import tqdm

GOAL_RATIO = 0.25
GOAL_MEMORY = 1.5
WEEK, DAY = "2025-W47", "2025-11-19"  # a past ISO week (Mon 17 to Sun 23 Nov 2025) and a day in it
WEEK_START = datetime(2025, 11, 17, tzinfo=UTC)
OLD = datetime(2024, 6, 1, tzinfo=UTC)
CITIES = [  # (latitude, longitude, country)
    (48.86, 2.35, "FR"), (45.76, 4.84, "FR"), (43.30, 5.37, "FR"), (52.52, 13.40, "DE"), (48.14, 11.58, "DE"),
    (51.51, -0.13, "GB"), (53.48, -2.24, "GB"), (40.42, -3.70, "ES"), (41.39, 2.17, "ES"), (41.90, 12.50, "IT"),
    (45.46, 9.19, "IT"), (52.37, 4.90, "NL"), (50.85, 4.35, "BE"), (59.33, 18.07, "SE"), (55.68, 12.57, "DK"),
    (52.23, 21.01, "PL"), (48.21, 16.37, "AT"), (47.37, 8.54, "CH"), (38.72, -9.14, "PT"), (37.98, 23.73, "GR"),
    (40.71, -74.01, "US"), (34.05, -118.24, "US"), (41.88, -87.63, "US"), (29.76, -95.37, "US"),
    (43.65, -79.38, "CA"), (49.28, -123.12, "CA"), (19.43, -99.13, "MX"), (-23.55, -46.63, "BR"),
    (-22.91, -43.17, "BR"), (-34.60, -58.38, "AR"), (35.68, 139.69, "JP"), (34.69, 135.50, "JP"),
    (37.57, 126.98, "KR"), (1.35, 103.82, "SG"), (28.61, 77.21, "IN"), (19.08, 72.88, "IN"),
    (-33.87, 151.21, "AU"), (-37.81, 144.96, "AU"), (30.04, 31.24, "EG"), (-26.20, 28.05, "ZA"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--likes", type=int, default=1_000_000)
    parser.add_argument("--small-users", type=int, default=None, help="the memory comparison's size (users / 10)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    harness.add_arguments(parser)
    return parser.parse_args(argv)


# --- seeding ------------------------------------------------------------------------------------


def _write(table: str, columns: tuple[str, ...], rows, total: int, chunk: int = 20_000) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany in transactions of ``chunk`` rows on SQLite."""
    from django.db import connection, transaction

    bar = tqdm(total=total, desc=table, unit="row", leave=False)
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
                bar.update()
    else:
        adapt = connection.ops.adapt_datetimefield_value
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
        batch = []
        for row in rows:
            batch.append([adapt(value) if isinstance(value, datetime) else value for value in row])
            if len(batch) == chunk:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.executemany(sql, batch)
                bar.update(len(batch))
                batch = []
        if batch:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, batch)
    bar.close()


def _in_week(rng: random.Random, start: datetime = WEEK_START) -> datetime:
    return start + timedelta(seconds=rng.random() * 7 * 86400)


def _places(rng: random.Random, count: int, placed: float) -> list[tuple]:
    from apps.common.geo import grid_cell

    out = []
    for _ in range(count):
        if rng.random() >= placed:
            out.append((None, None, "", "", ""))
            continue
        latitude, longitude, country = rng.choice(CITIES)
        latitude, longitude = latitude + rng.uniform(-0.3, 0.3), longitude + rng.uniform(-0.3, 0.3)
        out.append((latitude, longitude, "City", country, grid_cell(latitude=latitude, longitude=longitude)))
    return out


def _skewed(rng: random.Random, count: int) -> int:
    return int(count * rng.random() ** 3)  # a few very popular, a long tail


def seed(*, users: int, likes: int, seed_value: int) -> None:
    """The network described in the module docstring; ids are 1..n on a fresh database."""
    from django.contrib.auth.hashers import make_password

    rng = random.Random(seed_value)  # noqa: S311 (reproducible data, not secrets)
    password = make_password(None)
    user_columns = ("email", "username", "name", "bio", "picture", "picture_thumbnail", "password", "is_superuser",
                    "latitude", "longitude", "city", "country_code", "grid_cell", "posts_count", "followers_count",
                    "following_count", "is_active", "is_staff", "created_at")
    places = _places(rng, users, placed=0.9)
    _write("accounts_user", user_columns, (
        (f"u{i}@bench.invalid", f"u{i}", f"User {i}", "", "", "", password, False, *places[i], 0, 0, 0, True, False,
         _in_week(rng) if rng.random() < 0.02 else OLD)
        for i in range(users)), users)
    posts = users // 2
    authors = [1 + _skewed(rng, users) for _ in range(posts)]
    post_places = _places(rng, posts, placed=0.6)
    _write("posts_post", ("author_id", "created_at", "caption", "photo", "photo_thumbnail", "width", "height",
                          "blurhash", "latitude", "longitude", "city", "country_code", "grid_cell", "likes_count",
                          "comments_count"), (
        (authors[i], _in_week(rng) if rng.random() < 0.3 else OLD, "", "p.jpg", "t.jpg", 1080, 1080, "",
         *post_places[i], 0, 0) for i in range(posts)), posts)
    seen: set[int] = set()

    def like_rows():
        while len(seen) < likes:
            post_id, user_id = 1 + _skewed(rng, posts), rng.randint(1, users)
            if post_id * (users + 1) + user_id in seen:
                continue
            seen.add(post_id * (users + 1) + user_id)
            when = _in_week(rng) if rng.random() < 0.7 else _in_week(rng, WEEK_START - timedelta(days=7))
            yield post_id, user_id, when

    _write("posts_like", ("post_id", "user_id", "created_at"), like_rows(), likes)
    seen.clear()
    _write("posts_comment", ("post_id", "author_id", "text", "created_at"), (
        (1 + _skewed(rng, posts), rng.randint(1, users), "nice", _in_week(rng)) for _ in range(likes // 10)),
        likes // 10)

    def follow_rows():
        while len(seen) < 2 * users:
            follower, followee = rng.randint(1, users), 1 + _skewed(rng, users)
            if follower == followee or follower * (users + 1) + followee in seen:
                continue
            seen.add(follower * (users + 1) + followee)
            yield follower, followee, _in_week(rng) if rng.random() < 0.5 else OLD

    _write("social_follow", ("follower_id", "followee_id", "created_at"), follow_rows(), 2 * users)
    seen.clear()
    _write("ranking_unfollow", ("follower_id", "followee_id", "created_at"), (
        (rng.randint(1, users), 1 + _skewed(rng, users), _in_week(rng)) for _ in range(users // 10)), users // 10)
    _analyze()


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def wipe() -> None:
    from django.db import connection

    tables = ("ranking_userrank", "ranking_postrank", "ranking_ranking", "ranking_unfollow", "social_follow",
              "posts_comment", "posts_like", "posts_post", "accounts_user")
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        if connection.vendor == "sqlite":
            cursor.execute("DELETE FROM sqlite_sequence")
        else:
            for table in tables:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1, false)")  # noqa: S608


# --- measuring ----------------------------------------------------------------------------------


def _periods():
    from apps.ranking import periods

    return {"users": periods.week(WEEK), "posts": periods.day(DAY)}


def period_likes(period) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM posts_like WHERE created_at >= %s AND created_at < %s",
                       [connection.ops.adapt_datetimefield_value(value) for value in (period.start, period.end)])
        return cursor.fetchone()[0]


def bare_aggregate(period) -> float:
    """Seconds of one GROUP BY counting the period's likes per recipient (the post's author)."""
    from django.db import connection

    bounds = [connection.ops.adapt_datetimefield_value(value) for value in (period.start, period.end)]
    sql = ("SELECT COUNT(*) FROM (SELECT p.author_id, COUNT(*) AS n FROM posts_like l "
           "JOIN posts_post p ON p.id = l.post_id WHERE l.created_at >= %s AND l.created_at < %s "
           "GROUP BY p.author_id) AS per_recipient")
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, bounds)
        cursor.fetchone()
    return time.perf_counter() - began


def job(kind: str, period) -> tuple[float, object]:
    from apps.ranking import services

    began = time.perf_counter()
    summary = (services.users_rank if kind == "users" else services.posts_rank)(period=period)
    return time.perf_counter() - began, summary


def peak_memory(kind: str, period) -> int:
    tracemalloc.start()
    try:
        job(kind, period)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def memory_at(users: int, likes: int, seed_value: int) -> dict[str, int]:
    seed(users=users, likes=likes, seed_value=seed_value)
    found = {kind: peak_memory(kind, period) for kind, period in _periods().items()}
    wipe()
    return found


def forget(kind: str) -> None:
    """Drop the period's ranking (untimed), so the next run computes it afresh, as the scheduler does."""
    from apps.ranking.models import PostRank, Ranking, UserRank

    (UserRank if kind == "users" else PostRank).objects.all().delete()
    Ranking.objects.filter(kind=kind).delete()


def main() -> None:
    args = parse_args()
    small = args.small_users or max(1, args.users // 10)
    url = harness.setup(args)
    from django.db import connection

    load_before, started = os.getloadavg(), time.perf_counter()
    print(f"{connection.vendor} ({url.split('@')[-1]}); load average {load_before[0]:.2f} {load_before[1]:.2f}")
    small_peaks = memory_at(small, args.likes * small // args.users, args.seed)
    seed(users=args.users, likes=args.likes, seed_value=args.seed)
    print(f"Seeded in {time.perf_counter() - started:.0f} s; {args.rounds} round(s):")
    timings: dict[str, list[float]] = defaultdict(list)
    summaries = {}
    for _ in range(args.rounds):
        for kind, period in _periods().items():
            forget(kind)
            timings[f"bare {kind}"].append(bare_aggregate(period))
            seconds, summaries[kind] = job(kind, period)
            timings[kind].append(seconds)
            timings[f"re-run {kind}"].append(job(kind, period)[0])
    big_peaks = {kind: peak_memory(kind, period) for kind, period in _periods().items()}
    report(args, small, timings, summaries, small_peaks, big_peaks, load_before)
    print(f"Total run time {time.perf_counter() - started:.0f} s (seeding included).")


def _rounds(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _rate(likes: int, values: list[float]) -> str:
    median = statistics.median(values)
    return f"{median:.3f} s ({likes / median:,.0f} likes/s); rounds {_rounds(values)}"


def report(args, small, timings, summaries, small_peaks, big_peaks, load_before) -> None:
    rows, goals = [], []
    for kind, period in _periods().items():
        likes, summary = period_likes(period), summaries[kind]
        # Each round's ratio compares a job with the bare aggregate run just before it: on a shared machine the
        # load drifts between rounds, and the median of per-round ratios follows it better than a ratio of medians.
        bares = timings[f"bare {kind}"]
        fresh = statistics.median(b / j for b, j in zip(bares, timings[kind], strict=True))
        rerun = statistics.median(b / j for b, j in zip(bares, timings[f"re-run {kind}"], strict=True))
        rows += [
            (f"{kind}: period", f"{period.name}, {likes:,} likes in it"),
            (f"{kind}: ranked / entries / scopes",
             f"{summary.candidates:,} / {summary.entries:,} / {summary.scopes:,}"),
            (f"{kind}: bare aggregate", _rate(likes, timings[f"bare {kind}"])),
            (f"{kind}: job, new period", _rate(likes, timings[kind])),
            (f"{kind}: job, re-run (replaces)", _rate(likes, timings[f"re-run {kind}"])),
            (f"{kind}: ratio job rate / bare rate (median of rounds), new / re-run", f"{fresh:.2f} / {rerun:.2f}"),
            (f"{kind}: peak Python memory at {small:,} / {args.users:,} users",
             f"{small_peaks[kind] / 1024:,.0f} KiB / {big_peaks[kind] / 1024:,.0f} KiB"),
        ]
        goals += [
            (f"goal rank_{kind} >= {GOAL_RATIO} x bare rate, new period met",
             harness.yes_no(fresh >= GOAL_RATIO)),
            (f"goal rank_{kind} >= {GOAL_RATIO} x bare rate, re-run met", harness.yes_no(rerun >= GOAL_RATIO)),
            (f"goal rank_{kind} peak memory independent of users (<= {GOAL_MEMORY}x) met",
             harness.yes_no(big_peaks[kind] <= GOAL_MEMORY * small_peaks[kind])),
        ]
    load_after = os.getloadavg()
    rows.append(("load average before / after (1 min)", f"{load_before[0]:.2f} / {load_after[0]:.2f}"))
    harness.print_summary(f"Ranking benchmark: {args.users:,} users, {args.likes:,} likes", rows + goals)


if __name__ == "__main__":
    sys.exit(main())
