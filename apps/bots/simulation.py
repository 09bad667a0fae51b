"""The growth model: N simulated days of use in K cities, through the public API only.

Each day, in each city (phases run in this order for all cities at once, each phase's requests in parallel):

1. signup: ``scale * weight(city) * growth**(day-1)`` new users (weight: the city's population against the
   largest's, square-rooted), a ``celebrity_share`` of them celebrities (at least one per city on day one).
   Each sets a location near the city, some a bio and a picture, and registers a device.
2. follow: each new user follows about ``follows_mean`` accounts, a ``celebrity_follow_share`` of them
   celebrities from any city, the rest mostly local (``local_share``), picked by preferential attachment
   (followers + 1), so the graph is skewed; ordinary users follow back with ``follow_back``. Earlier users
   make a follow or two now and then.
3. post: celebrities post 1 to 3 photos a day, a ``post_share`` of the day's active users one or two (with a
   location near their city ``located_share`` of the time). A sample of posts is watched: a few followers poll
   their first feed page until it shows, which is the feed delivery lag (hybrid when the author has
   ``celebrity_followers`` or more followers, as the server's DISPENSE_CELEBRITY_FOLLOWERS, else fanned out).
4. engage: an ``active_share`` of everyone reads the feed (and again with If-None-Match), likes and comments on
   what it shows, more so recent posts (half as likely per day of age) and celebrities' (three times), looks at
   profiles, top lists, search and notifications, and now and then unlikes, unfollows, deletes a comment or a post.

At the end everything the bots were told was created is read back (posts, counters, likes, comments, deleted
posts gone); a difference is a lost write.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from apps.bots.cities import City, largest_cities
from apps.bots.client import ApiError, BotUser, Client
from apps.bots.photos import make_photo
from apps.bots.stats import Stats
from apps.bots.world import PostRecord, World

WORDS = (
    "sunset", "coffee", "street", "market", "harbour", "rain", "friends",
    "bridge", "garden", "skyline", "train", "night", "morning", "dog",
)  # fmt: skip


@dataclass
class Knobs:
    days: int = 2
    cities: int = 4
    scale: float = 20.0
    growth: float = 1.5
    celebrity_share: float = 0.04
    follows_mean: float = 6.0
    celebrity_follow_share: float = 0.4
    local_share: float = 0.8
    follow_back: float = 0.3
    active_share: float = 0.6
    post_share: float = 0.4
    located_share: float = 0.6
    like_rate: float = 0.5
    comment_rate: float = 0.12
    delete_rate: float = 0.02
    lag_share: float = 0.25
    lag_followers: int = 3
    lag_timeout: float = 60.0
    celebrity_followers: int = 100_000
    concurrency: int = 8
    seed: int = 1
    password: str = "bots-are-people-2-!"


class Simulation:
    def __init__(self, client: Client, knobs: Knobs, *, progress=None):
        self.client, self.knobs, self.progress = client, knobs, progress
        self.stats: Stats = client.stats
        self.world = World()
        self.rng = random.Random(knobs.seed)
        self.run_id = uuid.uuid4().hex[:8]
        self.cities: list[City] = largest_cities(knobs.cities)
        self._serial = 0
        self._serial_lock = threading.Lock()

    # --- running tasks ---------------------------------------------------------------------------------

    def _phase(self, label: str, tasks: Iterable[Callable[[], object]]) -> None:
        tasks = list(tasks)
        bar = self.progress.add_task(label, total=len(tasks)) if self.progress is not None else None
        with ThreadPoolExecutor(self.knobs.concurrency) as pool:
            futures: list[Future] = [pool.submit(self._guarded, task) for task in tasks]
            for _ in as_completed(futures):
                if bar is not None:
                    self.progress.advance(bar)
        if bar is not None:
            self.progress.update(bar, visible=False)

    def _guarded(self, task: Callable[[], object]) -> None:
        try:
            task()
        except ApiError:
            pass  # already counted as a failure by the client
        except Exception as error:  # a body the bots cannot read (its violation is counted too), or a bot's bug
            self.stats.fail("bot_error", f"{type(error).__name__}: {error}"[:300])

    def _random(self) -> random.Random:
        with self._serial_lock:
            self._serial += 1
            return random.Random(f"{self.knobs.seed}:{self._serial}")

    # --- the days --------------------------------------------------------------------------------------

    def run(self) -> dict:
        started = time.monotonic()
        self.client.time()
        for day in range(1, self.knobs.days + 1):
            new_users = self._signups(day)
            self._follows(day, new_users)
            self._posts(day, new_users)
            self._engage(day)
        self._read_back()
        return self.stats.summary(
            run_id=self.run_id,
            knobs=vars(self.knobs) | {"password": "***"},
            cities=[f"{city.name} ({city.country_code})" for city in self.cities],
            world=self.world.counts(),
            seconds=round(time.monotonic() - started, 1),
        )

    def _new_count(self, city: City, day: int) -> int:
        weight = math.sqrt(city.population / self.cities[0].population)
        return max(1, round(self.knobs.scale * weight * self.knobs.growth ** (day - 1)))

    def _signups(self, day: int) -> list[BotUser]:
        users = []
        for city in self.cities:
            count = self._new_count(city, day)
            stars = round(count * self.knobs.celebrity_share) or (1 if day == 1 else 0)
            for n in range(count):
                serial = len(self.world.users) + len(users)
                users.append(
                    BotUser(
                        email=f"bot-{self.run_id}-{serial}@bots.example.com",
                        password=self.knobs.password,
                        name=f"{'Star' if n < stars else 'Bot'} {city.name} {serial}",
                        device_id=f"bot-device-{serial}",
                        city=city.name,
                        celebrity=n < stars,
                    )
                )
        city_of = {city.name: city for city in self.cities}
        self._phase(f"day {day}: sign up", [lambda u=u: self._signup(u, city_of[u.city]) for u in users])
        return [user for user in users if user.id]

    def _signup(self, user: BotUser, city: City) -> None:
        rng = self._random()
        username = f"{'star' if user.celebrity else 'bot'}_{self.run_id}_{user.device_id.rsplit('-', 1)[1]}"
        self.client.signup(user, username=username)
        self.stats.create("celebrities" if user.celebrity else "users")
        self.world.user_added(user)
        location = self.client.location_set(user, *city.near(rng))
        if location.get("latitude") is None:
            self.stats.fail("lost_write", f"user {user.id}: location not kept")
        if rng.random() < 0.5:
            self.client.me_update(user, bio=f"{rng.choice(WORDS)} and {rng.choice(WORDS)} in {city.name}")
        if user.celebrity or rng.random() < 0.3:
            me = self.client.picture_set(user, make_photo(rng).upload())
            if not me.get("picture_url"):
                self.stats.fail("lost_write", f"user {user.id}: picture not kept")
        self.client.device_register(user, registration_id=uuid.uuid4().hex * 2, platform=rng.choice(["ios", "android"]))

    # --- follows ---------------------------------------------------------------------------------------

    def _pick(self, rng: random.Random, pool: list[BotUser], exclude: set[str]) -> BotUser | None:
        candidates = [user for user in pool if user.id not in exclude]
        if not candidates:
            return None
        weights = [self.world.followers[user.id] + 1 for user in candidates]
        return rng.choices(candidates, weights=weights)[0]

    def _targets(self, user: BotUser, count: int) -> list[BotUser]:
        chosen: list[BotUser] = []
        exclude = {user.id} | self.world.following[user.id]
        for _ in range(count):
            roll, stars = self.rng.random(), self.knobs.celebrity_follow_share
            if roll < stars:
                pool = self.world.celebrities
            elif roll < stars + (1 - stars) * self.knobs.local_share:
                pool = self.world.by_city[user.city]
            else:
                pool = self.world.users
            target = self._pick(self.rng, pool, exclude)
            if target is not None:
                chosen.append(target)
                exclude.add(target.id)
        return chosen

    def _follows(self, day: int, new_users: list[BotUser]) -> None:
        plans: list[tuple[BotUser, BotUser]] = []
        for user in new_users:
            count = max(1, round(self.rng.expovariate(1 / self.knobs.follows_mean)))
            plans.extend((user, target) for target in self._targets(user, count))
        earlier = [user for user in self.world.users if user not in new_users]
        for user in self.rng.sample(earlier, k=len(earlier) // 5):
            plans.extend((user, target) for target in self._targets(user, self.rng.randint(1, 2)))
        self._phase(f"day {day}: follow", [lambda a=a, b=b: self._follow(a, b) for a, b in plans])

    def _follow(self, follower: BotUser, followee: BotUser, back: bool = True) -> None:
        answer = self.client.follow(follower, followee.id)
        if answer.body.get("following") is not True:
            self.stats.fail("unexpected_body", f"follow {follower.id}->{followee.id}: {answer.body}")
        if self.world.followed(follower, followee.id):
            self.stats.create("follows")
        rng = self._random()
        chance = self.knobs.follow_back * (0.05 if followee.celebrity else 1)
        if back and rng.random() < chance and follower.id not in self.world.following[followee.id]:
            self._follow(followee, follower, back=False)

    # --- posts and the delivery lag --------------------------------------------------------------------

    def _posts(self, day: int, new_users: list[BotUser]) -> None:
        plans: list[BotUser] = []
        for user in self.world.users:
            if user.celebrity:
                plans.extend([user] * self.rng.randint(1, 3))
            elif (user in new_users or self.rng.random() < self.knobs.active_share) and (
                self.rng.random() < self.knobs.post_share
            ):
                plans.extend([user] * self.rng.randint(1, 2))
        city_of = {city.name: city for city in self.cities}
        self._phase(f"day {day}: post", [lambda u=u: self._post(u, city_of[u.city], day) for u in plans])

    def _post(self, user: BotUser, city: City, day: int) -> None:
        rng = self._random()
        photo = make_photo(rng)
        lat, lon = city.near(rng) if rng.random() < self.knobs.located_share else (None, None)
        caption = f"{rng.choice(WORDS)} #{rng.choice(WORDS)}" if rng.random() < 0.8 else None
        post = self.client.post_create(user, photo.upload(), caption=caption, latitude=lat, longitude=lon)
        posted_at = time.monotonic()
        self.stats.create("posts")
        self.world.posted(PostRecord(post["id"], user, day))
        shown = post["photo"]
        if (shown["width"] > shown["height"]) != photo.shown_landscape:
            self.stats.fail("unexpected_body", f"post {post['id']}: EXIF orientation {photo.orientation} not applied")
        if (post["location"] is None) != (lat is None):
            self.stats.fail("lost_write", f"post {post['id']}: location {lat},{lon} answered {post['location']}")
        if user.celebrity or rng.random() < self.knobs.lag_share:
            self._watch_delivery(rng, user, post["id"], posted_at)

    def _watch_delivery(self, rng: random.Random, author: BotUser, post_id: str, posted_at: float) -> None:
        followers = self.world.follower_ids(author.id)
        if not followers:
            return
        kind = "hybrid" if len(followers) >= self.knobs.celebrity_followers else "fanout"
        for follower_id in rng.sample(followers, k=min(self.knobs.lag_followers, len(followers))):
            follower = self.world.by_id[follower_id]
            while True:
                page = self.client.feed(follower, limit=100).body
                if any(item["id"] == post_id for item in page["results"]):
                    self.stats.delivered(kind, time.monotonic() - posted_at)
                    break
                if time.monotonic() - posted_at > self.knobs.lag_timeout:
                    self.stats.delivered(kind, None)
                    self.stats.fail("lost_write", f"post {post_id} not in follower {follower_id}'s feed")
                    break
                time.sleep(0.2)

    # --- engagement ------------------------------------------------------------------------------------

    def _engage(self, day: int) -> None:
        readers = [user for user in self.world.users if self.rng.random() < self.knobs.active_share]
        self._phase(f"day {day}: engage", [lambda u=u: self._session(u, day) for u in readers])

    def _weight(self, post: dict, day: int) -> float:
        record = self.world.posts.get(post["id"])
        age = day - record.day if record else 2
        return 0.5**age * (3.0 if record and record.author.celebrity else 1.0)

    def _session(self, user: BotUser, day: int) -> None:
        rng = self._random()
        answer = self.client.feed(user)
        page = answer.body
        if etag := answer.headers.get("ETag"):
            self.client.feed(user, etag=etag)
        if page.get("next") and rng.random() < 0.2:
            self.client.feed(user, url=page["next"])
        for post in page["results"]:
            if post["author"]["id"] == user.id:
                continue
            weight = self._weight(post, day)
            if not post["liked_by_me"] and rng.random() < min(0.95, self.knobs.like_rate * weight):
                self._like(user, post["id"])
            if rng.random() < min(0.9, self.knobs.comment_rate * weight):
                self._comment(user, post["id"], rng)
        self._browse(user, rng, page["results"])
        self._second_thoughts(user, rng)

    def _like(self, user: BotUser, post_id: str) -> None:
        answer = self.client.like(user, post_id, expect=(200, 404))  # 404: the author deleted it meanwhile
        if answer.status == 200:
            self.world.liked(user, post_id, on=True)
            self.stats.create("likes")

    def _comment(self, user: BotUser, post_id: str, rng: random.Random) -> None:
        text = f"{rng.choice(['Love', 'Nice', 'Wow', 'Great'])} {rng.choice(WORDS)}!"
        answer = self.client.comment_create(user, post_id, text, expect=(201, 404))
        if answer.status == 201:
            self.world.commented(answer.body["id"], user, post_id)
            self.stats.create("comments")

    def _browse(self, user: BotUser, rng: random.Random, posts: list[dict]) -> None:
        if posts and rng.random() < 0.3:
            post = rng.choice(posts)
            if self.client.post_get(user, post["id"], expect=(200, 404)).status == 200:
                self.client.comments(user, post["id"])
                self.client.likes(user, post["id"])
                self.client.user_get(user, post["author"]["id"])
                self.client.user_posts(user, post["author"]["id"], limit=10)
        if rng.random() < 0.2:
            self.client.top_users(user)
        if rng.random() < 0.2:
            self.client.top_posts(user)
        if rng.random() < 0.1:
            other = rng.choice(self.world.users)
            self.client.search(user, other.username[: rng.randint(3, len(other.username))])
        if rng.random() < 0.1:
            self.client.followers(user, user.id)
            self.client.following(user, user.id)
        if rng.random() < 0.3:
            self.client.unread_count(user)
            self.client.notifications(user, grouped=rng.random() < 0.5)
            self.client.notifications_read(user)
        if rng.random() < 0.1:
            self.client.me(user)

    def _second_thoughts(self, user: BotUser, rng: random.Random) -> None:
        rate = self.knobs.delete_rate
        liked = self.world.liked_by(user.id)
        if liked and rng.random() < rate * 3:
            post_id = rng.choice(liked)
            if self.client.unlike(user, post_id, expect=(200, 404)).status == 200:
                self.world.liked(user, post_id, on=False)
                self.stats.create("unlikes")
        followees = sorted(self.world.following[user.id])
        if followees and rng.random() < rate * 2:
            followee = rng.choice(followees)
            self.client.unfollow(user, followee)
            self.world.unfollowed(user, followee)
            self.stats.create("unfollows")
        mine = self.world.comments_by(user.id)
        if mine and rng.random() < rate * 2:
            comment_id = rng.choice(mine)
            if self.client.comment_delete(user, comment_id, expect=(204, 404)).status == 204:
                self.world.comment_deleted(comment_id)
                self.stats.create("comments_deleted")
        posts = self.world.live_posts_of(user.id)
        if posts and rng.random() < rate:
            record = rng.choice(posts)
            self.world.post_deleted(record.id)  # first: others' likes from now on are not expected to stay
            self.client.post_delete(user, record.id)
            self.stats.create("posts_deleted")

    # --- reading back ------------------------------------------------------------------------------------

    def _read_back(self) -> None:
        posts = list(self.world.posts.values())
        sample = self.rng.sample(posts, k=min(300, len(posts)))
        users = self.rng.sample(self.world.users, k=min(200, len(self.world.users)))
        tasks = [lambda r=r: self._check_post(r) for r in sample] + [lambda u=u: self._check_user(u) for u in users]
        self._phase("read back", tasks)

    def _check_post(self, record: PostRecord) -> None:
        answer = self.client.post_get(record.author, record.id, expect=(404,) if record.deleted else (200,))
        if record.deleted:
            return
        post = answer.body
        expected = (len(self.world.likes.get(record.id, ())), self.world.comments_of_post.get(record.id, 0))
        if (post["likes_count"], post["comments_count"]) != expected:
            self.stats.fail(
                "lost_write",
                f"post {record.id}: likes/comments {post['likes_count']}/{post['comments_count']}, expected {expected}",
            )

    def _check_user(self, user: BotUser) -> None:
        seen = self.client.user_get(user, user.id).body
        expected = {
            "posts_count": len(self.world.live_posts_of(user.id)),
            "followers_count": self.world.followers[user.id],
            "following_count": len(self.world.following[user.id]),
        }
        got = {key: seen[key] for key in expected}
        if got != expected:
            self.stats.fail("lost_write", f"user {user.id}: {got}, expected {expected}")
