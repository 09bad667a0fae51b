#!/usr/bin/env python
"""Fan-out benchmark: one post to N followers through the real actor path, against a straight insert.

1. Builds an author with ``--followers`` followers (one INSERT ... SELECT per table, the rows counted by the
   database itself: bench/seed.py; one shared unusable
   password hash: no Argon2 per user), on the benchmark's own fresh database.
2. Publishes one post the way the posts service does: the Post row and the ``post_published``
   signal in one transaction; dispense's receiver records the job and its first batch, and on
   commit the first ``fanout_batch_task`` message leaves. A real ``dramatiq.Worker`` with
   ``--threads`` threads runs the chain of batches (``--batch-size`` followers each) on the
   embedded StubBroker. Timed from the transaction's start to ``broker.join`` + ``worker.join``;
   the job must be DONE and the store must hold followers + 1 entries (the author's own).
3. Empties the store and writes the identical rows straight into it, in each honest way the
   store's StoreBench offers (SQLite: executemany, INSERT ... SELECT FROM json_each, and INSERT ...
   SELECT from the follow table; PostgreSQL: COPY, INSERT ... SELECT FROM unnest, and INSERT ...
   SELECT from the follow table; Cassandra: the store's prepared INSERT run concurrently by the
   driver at two concurrencies), each in one go; the fastest is "the limit for this store".
4. Prints deliveries/s of both and ratio = actor rate / limit rate; the goal is >= 0.5.
5. With ``--inline``, first fans out ``--rounds`` posts with no worker: this thread takes each message off
   the embedded broker's queue and calls its actor's function (what the worker machinery costs).

    .venv/bin/python bench/fanout.py --followers 100000 [--batch-size 1000] [--threads N] [--rounds 3]
        [--store sql|cassandra] [--inline] [--profile]
"""

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import threading
import time
from array import array

import dramatiq  # importing it touches neither Django nor a broker
import harness

GOAL = 0.5
INLINE = "without the worker (--inline), median"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=None, help="default 100,000; 1,000,000 with --celebrity")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="DISPENSE_BATCH_SIZE for this run; default the setting (5,000 on SQLite, else 1,000)")
    parser.add_argument("--threads", type=int, default=None,
                        help="worker threads; default DRAMATIQ_EMBEDDED_THREADS (1 on SQLite, 4 on PostgreSQL)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="fan-outs (each of a new post on an emptied store, then the baselines); medians are shown")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the worker threads and print where the actor time goes (slows the run)")
    parser.add_argument("--inline", action="store_true",
                        help="first fan out --rounds posts with the actor functions called one after another in this "
                        "thread, from the embedded broker's queue: the difference is Dramatiq's worker machinery")
    parser.add_argument("--celebrity", action="store_true",
                        help="the author is a celebrity (the hybrid feed): entries written and the time until "
                        "--sample followers see the post, against a full fan-out of the same author in the same run")
    parser.add_argument("--sample", type=int, default=100, help="followers whose first page is read (--celebrity)")
    harness.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.followers is None:
        args.followers = 1_000_000 if args.celebrity else 100_000
    return args


# --- the follow graph ---------------------------------------------------------------


def build_graph(*, followers: int):
    """The author and ``followers`` users who follow them, one set-based statement per table
    (bench/seed.py); returns the author."""
    from django.contrib.auth.hashers import make_password
    from seed import followers_create, users_create

    from apps.accounts.models import User

    password = make_password(None)  # one unusable hash, shared: hashing per user would dominate
    author = User.objects.create(email="author@bench.invalid", username="author", name="Author", password=password)
    follower_ids = users_create(count=followers, prefix="follower", password=password, following=1)
    followers_create(followee_id=author.pk, follower_ids=follower_ids)
    User.objects.filter(pk=author.pk).update(followers_count=followers)
    return author


# --- the actor path -----------------------------------------------------------------


class WorkerProfiler(dramatiq.Middleware):
    """Runs cProfile around every message, in whichever worker thread runs it, and sums the profiles."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.stats: pstats.Stats | None = None

    def before_process_message(self, broker, message) -> None:
        self.local.profile = cProfile.Profile()
        self.local.profile.enable()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        self.local.profile.disable()
        with self.lock:
            if self.stats is None:
                self.stats = pstats.Stats(self.local.profile)
            else:
                self.stats.add(self.local.profile)

    def report(self, lines: int = 35) -> str:
        out = io.StringIO()
        if self.stats is not None:
            self.stats.stream = out
            self.stats.sort_stats("cumulative").print_stats(lines)
            self.stats.sort_stats("tottime").print_stats(lines)
        return out.getvalue()


def _publish(author):
    """Insert a post and send ``post_published`` in its transaction, as the posts service does."""
    from django.db import transaction

    from apps.accounts.services import user_counter_add
    from apps.posts import signals
    from apps.posts.models import Post

    with transaction.atomic():
        post = Post.objects.create(
            author=author, caption="bench", photo="bench/photo.jpg", photo_thumbnail="bench/thumb.jpg",
            width=1080, height=1080,
        )
        user_counter_add(user_id=author.pk, field="posts_count", delta=1)
        signals.post_published.send(sender=Post, post=post)
    return post


def _broker(profiler: WorkerProfiler | None):
    from dramatiq.brokers.stub import StubBroker

    from apps.dispense import tasks  # noqa: F401  declares the actors and their queue

    broker = dramatiq.get_broker()
    if isinstance(broker, StubBroker):
        broker.flush_all()  # only the embedded broker: never empty a shared Redis
    if profiler:
        broker.add_middleware(profiler)
    return broker


def start_worker(*, threads: int, profiler: WorkerProfiler | None):
    """A real Dramatiq worker on the configured broker; one for the whole run (each adds broker middleware)."""
    worker = dramatiq.Worker(_broker(profiler), worker_threads=threads)
    worker.start()
    return worker


def run_actors(*, author, worker) -> tuple[float, object]:
    """Publish one post and let the worker fan it out; (seconds from publish to the job's end, post)."""
    from dramatiq.brokers.stub import StubBroker

    broker = worker.broker
    started = time.perf_counter()
    post = _publish(author)
    broker.join("dispense", **({"fail_fast": True} if isinstance(broker, StubBroker) else {}))
    worker.join()
    return time.perf_counter() - started, post


def run_inline(*, author) -> tuple[float, object]:
    """The same fan-out before any worker runs: this thread takes each message off the embedded broker's
    queue and calls its actor's function (the same services, without the worker's threads and middleware)."""
    from queue import Empty

    from dramatiq import Message

    broker = _broker(None)
    queue = broker.queues["dispense"]
    started = time.perf_counter()
    post = _publish(author)
    while True:
        try:
            message = Message.decode(queue.get_nowait())
        except Empty:
            break
        broker.get_actor(message.actor_name).fn(*message.args, **message.kwargs)
        queue.task_done()
    return time.perf_counter() - started, post


def check_job(*, post, bench, expected: int):
    """The post's job is DONE and the store holds ``expected`` entries of it; returns the job."""
    from apps.dispense.models import DispenseJob, State

    job = DispenseJob.objects.get(post_id=post.pk, kind=DispenseJob.Kind.PUBLISH)
    found = bench.count_post(post_id=post.pk)
    if job.state != State.DONE or found != expected:
        sys.exit(f"Fan-out incomplete: job {job.state} ({job.last_error}), {found} entries of {expected}.")
    return job


# --- the baseline -----------------------------------------------------------------


def fanout_rows(*, post):
    """The entries the actors wrote: the author's own and one per follower."""
    from stores import FanoutRows

    from apps.social.models import Follow

    followers = Follow.objects.filter(followee_id=post.author_id).order_by("follower_id")
    user_ids = array("q", [post.author_id])
    user_ids.extend(followers.values_list("follower_id", flat=True).iterator(chunk_size=20_000))
    return FanoutRows(post_id=post.pk, author_id=post.author_id, created_at=post.created_at, user_ids=user_ids)


def run_baselines(*, bench, rows, expected: int) -> dict[str, float]:
    """Seconds of each direct writer on an emptied store."""
    timings = {}
    for name, write in bench.direct_writers().items():
        bench.clear()
        started = time.perf_counter()
        write(rows)
        timings[name] = time.perf_counter() - started
        if (found := bench.count_post(post_id=rows.post_id)) != expected:
            sys.exit(f"Baseline {name!r} wrote {found} entries of {expected}.")
    return timings


# --- the run ------------------------------------------------------------------------


def inline_rounds(*, author, bench, expected: int, rounds: int) -> list[float]:
    """``rounds`` fan-outs without the worker (run before it starts, so it cannot take their messages)."""
    timings = []
    for _ in range(rounds):
        bench.clear()
        seconds, post = run_inline(author=author)
        check_job(post=post, bench=bench, expected=expected)
        timings.append(seconds)
    print("  without the worker: " + ", ".join(f"{secs:.2f} s" for secs in timings))
    return timings


def run_round(*, author, bench, worker, expected: int) -> tuple[float, dict, object]:
    """One actor fan-out of a new post on an empty store, then each baseline; (actor seconds, baselines, job)."""
    bench.clear()
    actor_seconds, post = run_actors(author=author, worker=worker)
    job = check_job(post=post, bench=bench, expected=expected)
    timings = run_baselines(bench=bench, rows=fanout_rows(post=post), expected=expected)
    print(f"  actors {actor_seconds:.2f} s; " + "; ".join(f"{name}: {secs:.2f} s" for name, secs in timings.items()))
    return actor_seconds, timings, job


def summary(args, *, bench, jobs: list, actor: list[float], timings: list[dict], expected: int, inline: list) -> list:
    from django.conf import settings

    actor_seconds = statistics.median(actor)
    baselines = {name: statistics.median(t[name] for t in timings) for name in timings[0]}
    best = min(baselines, key=baselines.get)
    ratio = baselines[best] / actor_seconds  # = actor rate / baseline rate
    per_round = ", ".join(f"{t[best] / a:.2f}" for a, t in zip(actor, timings, strict=True))
    rows = [
        ("followers", f"{args.followers:,}"), ("deliveries (followers + author)", f"{expected:,}"),
        ("batch size", settings.DISPENSE_BATCH_SIZE), ("worker threads", args.threads),
        ("store", args.store), ("database", bench.describe()),
        ("broker", args.broker_url or "StubBroker (embedded)"), ("rounds (medians below)", args.rounds),
        ("job batches / attempts with errors", f"{jobs[-1].batches.count()} / {sum(job.attempts for job in jobs)}"),
        ("actor seconds", f"{actor_seconds:.2f}"), ("actor deliveries/s", f"{expected / actor_seconds:,.0f}"),
    ]
    rows += [(f"baseline: {name}", f"{secs:.2f} s, {expected / secs:,.0f} rows/s") for name, secs in baselines.items()]
    if inline:
        seconds = statistics.median(inline)
        rows += [(INLINE, f"{seconds:.2f} s, ratio {baselines[best] / seconds:.2f}")]
    rows += [
        ("baseline used (fastest)", best), ("baseline seconds", f"{baselines[best]:.2f}"),
        ("baseline rows/s", f"{expected / baselines[best]:,.0f}"),
        ("ratio per round", per_round), ("ratio (actor rate / baseline rate)", f"{ratio:.2f}"),
        (f"goal ratio >= {GOAL} met", harness.yes_no(ratio >= GOAL)),
    ]
    return rows


def main() -> None:
    args = parse_args()
    if args.broker_url and (args.profile or args.inline):
        sys.exit("--profile and --inline work with the embedded broker only.")
    harness.setup(args, **({"DISPENSE_BATCH_SIZE": str(args.batch_size)} if args.batch_size else {}))
    from stores import store_bench

    bench, expected = store_bench(args.store), args.followers + 1
    started = time.perf_counter()
    author = build_graph(followers=args.followers)
    bench.after_load()
    if args.celebrity:
        celebrity_main(args, author=author, bench=bench, started=started)
        return
    print(f"Graph built in {time.perf_counter() - started:.1f} s; {args.rounds} round(s) of actors, then baselines:")
    if args.threads is None:
        from django.conf import settings

        args.threads = settings.DRAMATIQ_EMBEDDED_THREADS
    inline = inline_rounds(author=author, bench=bench, expected=expected, rounds=args.rounds) if args.inline else []
    profiler = WorkerProfiler() if args.profile else None
    worker = start_worker(threads=args.threads, profiler=profiler)
    try:
        rounds = [run_round(author=author, bench=bench, worker=worker, expected=expected) for _ in range(args.rounds)]
    finally:
        worker.stop()
    actor, timings, jobs = (list(column) for column in zip(*rounds, strict=True))
    harness.print_summary("Fan-out benchmark", summary(
        args, bench=bench, jobs=jobs, actor=actor, timings=timings, expected=expected, inline=inline))
    print(f"Total run time {time.perf_counter() - started:.0f} s (graph included).")
    if profiler:
        print("\nWorker-thread profile (summed over threads; timings above are inflated by profiling):")
        print(profiler.report())


# --- a celebrity's post (--celebrity) ---------------------------------------------------


def _sample_readers(*, author, size: int) -> list:
    import random

    from apps.accounts.models import User
    from apps.social.selectors import follower_ids_between

    ids = random.Random(2026).sample(follower_ids_between(user_id=author.pk, after=0, upto=None), size)  # noqa: S311
    return list(User.objects.filter(pk__in=ids))


def _read_until_seen(*, readers: list, post_id: int, started: float, timeout: float = 600) -> list[float]:
    """Read each reader's first page, round after round, until every one shows ``post_id``; the seconds
    from ``started`` at which each first did."""
    from apps.dispense.selectors import feed_page_ids

    seen: dict[int, float] = {}
    while len(seen) < len(readers):
        for reader in readers:
            if reader.pk not in seen and post_id in feed_page_ids(user=reader, cursor=None, limit=30)[0]:
                seen[reader.pk] = time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            sys.exit(f"Only {len(seen)} of {len(readers)} followers saw post {post_id} after {timeout:.0f} s.")
    return sorted(seen.values())


def run_celebrity_post(*, author, readers: list, bench) -> dict:
    """Publish as a celebrity: no job; the seconds until each sampled follower sees the post; entries written."""
    from apps.dispense.models import DispenseJob

    started = time.perf_counter()
    post = _publish(author)
    published = time.perf_counter() - started
    seen = _read_until_seen(readers=readers, post_id=post.pk, started=started)
    if DispenseJob.objects.filter(post_id=post.pk).exists():
        sys.exit("A celebrity's post got a fan-out job.")
    return {"publish": published, "seen": seen, "entries": bench.count_post(post_id=post.pk), "post": post}


def run_full_fanout(*, author, readers: list, worker, bench, expected: int) -> dict:
    """The same author, not a celebrity: a full fan-out, its followers' first pages read meanwhile."""
    from dramatiq.brokers.stub import StubBroker

    broker = worker.broker
    started = time.perf_counter()
    post = _publish(author)
    seen = _read_until_seen(readers=readers, post_id=post.pk, started=started)
    broker.join("dispense", **({"fail_fast": True} if isinstance(broker, StubBroker) else {}))
    worker.join()
    done = time.perf_counter() - started
    job = check_job(post=post, bench=bench, expected=expected)
    return {"seen": seen, "done": done, "lag": (job.last_delivery_at - post.created_at).total_seconds(), "job": job}


def celebrity_main(args, *, author, bench, started: float) -> None:
    """--celebrity: the author's post merged at read time, against their full fan-out, same run."""
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from apps.dispense import services
    from apps.dispense.models import Celebrity
    from apps.dispense.selectors import celebrities_followed_forget, feed_page_ids

    readers = _sample_readers(author=author, size=args.sample)
    with transaction.atomic():  # as in the follow that crossed the threshold
        services.celebrity_update(user_id=author.pk)  # followers_count is set: they become one
    # As if they had crossed the threshold long enough ago that every reader's cached list knows it.
    Celebrity.objects.filter(pk=author.pk).update(since=timezone.now() - timezone.timedelta(days=1))
    for reader in readers:  # warm: each reader's list of followed celebrities cached, feeds trimmed
        feed_page_ids(user=reader, cursor=None, limit=30)
    print(f"Graph built in {time.perf_counter() - started:.1f} s; the celebrity's post, then the full fan-out:")
    hybrid = run_celebrity_post(author=author, readers=readers, bench=bench)
    services.celebrity_forget(user_id=author.pk)
    for reader in readers:
        celebrities_followed_forget(user_id=reader.pk)
    threads = args.threads or settings.DRAMATIQ_EMBEDDED_THREADS
    worker = start_worker(threads=threads, profiler=None)
    try:
        full = run_full_fanout(author=author, readers=readers, worker=worker, bench=bench,
                               expected=args.followers + 1)
    finally:
        worker.stop()
    followers_entries = hybrid["entries"] - 1  # the author's own entry is written at once, as for any post
    rows = [
        ("followers", f"{args.followers:,}"), ("store", args.store), ("database", bench.describe()),
        ("batch size / worker threads (full fan-out)", f"{settings.DISPENSE_BATCH_SIZE} / {threads}"),
        ("sampled followers reading their first page", len(readers)),
        ("celebrity: publish (transaction) seconds", f"{hybrid['publish']:.3f}"),
        ("celebrity: feed entries written, followers' / author's own", f"{followers_entries} / 1"),
        ("celebrity: seconds until sampled followers saw it, p50 / all",
         f"{harness.percentile(hybrid['seen'], 50):.3f} / {hybrid['seen'][-1]:.3f}"),
        ("full fan-out: seconds until sampled followers saw it, p50 / all",
         f"{harness.percentile(full['seen'], 50):.3f} / {full['seen'][-1]:.3f}"),
        ("full fan-out: seconds to last delivery (job), wall to DONE", f"{full['lag']:.2f}, {full['done']:.2f}"),
        ("full fan-out: feed entries written", f"{full['job'].delivered:,}"),
        ("goal celebrity followers' entries written = 0 met", harness.yes_no(followers_entries == 0)),
        ("goal celebrity: all sampled followers saw it in < 1 s met", harness.yes_no(hybrid["seen"][-1] < 1)),
    ]
    harness.print_summary("Celebrity post (hybrid feed) against a full fan-out", rows)
    print(f"Total run time {time.perf_counter() - started:.0f} s (graph included).")


if __name__ == "__main__":
    main()
