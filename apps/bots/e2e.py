"""One scripted pass over every endpoint of the contract with three users, asserting each answer.

The original's test service made 45 calls and asserted nothing; each step here checks status, shape (the
client checks every answer against the live schema) and meaning (counters, lists, feeds, permissions).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from apps.bots.client import Answer, ApiError, BotUser, Client
from apps.bots.photos import make_photo

FEED_WAIT_SECONDS = 30.0


class StepFailed(Exception):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise StepFailed(message)


@dataclass
class Step:
    name: str
    result: str = "ok"  # ok or FAIL
    statuses: list[str] = field(default_factory=list)
    ms: float = 0.0
    detail: str = ""


class EndToEnd:
    def __init__(self, client: Client, *, password: str = "end-to-end-Pass-42"):  # noqa: S107 (throwaway users)
        self.client = client
        self.steps: list[Step] = []
        self.tag = uuid.uuid4().hex[:8]
        self.rng = random.Random(self.tag)
        self.password = password
        self._current: Step | None = None
        client.observer = self._seen
        self.ada, self.bob, self.cy = self.user("ada"), self.user("bob"), self.user("cy")

    def _seen(self, op: str, answer: Answer) -> None:
        if self._current is not None:
            self._current.statuses.append(str(answer.status))

    def step(self, name: str, action: Callable[[], None]) -> None:
        self._current = step = Step(name)
        started = time.perf_counter()
        try:
            action()
        except (StepFailed, ApiError, KeyError, TypeError) as error:
            step.result, step.detail = "FAIL", f"{type(error).__name__}: {error}"[:300]
        step.ms = round((time.perf_counter() - started) * 1000, 1)
        self.steps.append(step)
        self._current = None

    @property
    def failed(self) -> bool:
        return any(step.result == "FAIL" for step in self.steps) or self.client.stats.failed

    def user(self, name: str, device: str = "phone") -> BotUser:
        return BotUser(f"e2e-{self.tag}-{name}@bots.example.com", self.password, name.title(), f"{name}-{device}")

    def device(self, user: BotUser, device: str) -> BotUser:
        twin = BotUser(user.email, user.password, user.name, f"{user.name.lower()}-{device}")
        twin.id, twin.username = user.id, user.username
        return twin

    def feed_ids(self, user: BotUser) -> list[str]:
        return [post["id"] for post in self.client.feed(user, limit=100).body["results"]]

    def wait_feed(self, user: BotUser, post_id: str, present: bool) -> None:
        deadline = time.monotonic() + FEED_WAIT_SECONDS
        while (post_id in self.feed_ids(user)) != present:
            check(time.monotonic() < deadline, f"post {post_id} {'never came' if present else 'stayed'} in the feed")
            time.sleep(0.2)

    # --- the script ------------------------------------------------------------------------------------

    def run(self) -> list[Step]:
        for name, action in [
            ("time", self.s_time),
            ("signup three users", self.s_signup),
            ("signup with a taken email is 409", self.s_signup_taken),
            ("login by username; a wrong password is 401", self.s_login),
            ("refresh rotates; a replayed refresh token revokes the login", self.s_refresh),
            ("no token is 401; X-Request-ID echoed", self.s_no_token),
            ("me, profile update, picture, location", self.s_profile),
            ("follow, again, self (400), unknown (404)", self.s_follow),
            ("followers and following lists", self.s_lists),
            ("search by exact email and by username prefix", self.s_search),
            ("post with location and EXIF orientation; not an image is 415", self.s_post),
            ("post detail; the author's posts", self.s_post_read),
            ("the follower's feed shows the post; If-None-Match gives 304", self.s_feed),
            ("like, again, likes list, unlike", self.s_like),
            ("comments: create, list, who may delete", self.s_comments),
            ("Idempotency-Key: a repeat returns the first answer", self.s_idempotency),
            ("another user's post cannot be deleted", self.s_post_not_yours),
            ("notifications: list, grouped, unread count, read", self.s_notifications),
            ("devices: iOS and Android, re-assigned, another user's is 404", self.s_devices),
            ("top users and top posts", self.s_top),
            ("unfollow takes the posts out of the feed", self.s_unfollow),
            ("delete the post: gone from detail and feed", self.s_post_delete),
            ("logout other_devices, this_device, all_devices", self.s_logout),
        ]:
            self.step(name, action)
        return self.steps

    def s_time(self) -> None:
        body = self.client.time()
        check(abs(body["server_time_ms"] / 1000 - time.time()) < 600, f"server clock far off: {body}")

    def s_signup(self) -> None:
        for user in (self.ada, self.bob, self.cy):
            body = self.client.signup(user, username=f"{user.name.lower()}_{self.tag}")
            check(body["tokens"]["token_type"] == "Bearer", "token_type is not Bearer")
            check(body["user"]["email"] == user.email and body["user"]["posts_count"] == 0, "signup user differs")

    def s_signup_taken(self) -> None:
        twin = self.user("ada", "tablet")
        body = {"email": twin.email, "password": twin.password, "name": "Twin", "device_id": twin.device_id}
        answer = self.client.call("POST", "/auth/signup", open_auth=True, json=body, expect=(409,))
        check(answer.code == "email_taken", f"code {answer.code}")

    def s_login(self) -> None:
        tablet = self.device(self.ada, "tablet")
        self.client.login(tablet, login=self.ada.username)
        check(self.client.me(tablet)["id"] == self.ada.id, "login by username gave another user")
        wrong = BotUser(self.ada.email, "not-the-password", "x", "ada-x")
        check(self.client.login(wrong, expect=(401,)).code == "invalid_credentials", "wrong password not refused")

    def s_refresh(self) -> None:
        laptop = self.device(self.ada, "laptop")
        self.client.login(laptop)
        old_access, old_refresh = laptop.access_token, laptop.refresh_token
        self.client.refresh(laptop, failed=old_access)
        check(laptop.access_token != old_access and laptop.refresh_token != old_refresh, "refresh gave the same pair")
        check(self.client.me(laptop)["id"] == self.ada.id, "the new access token does not work")
        replay = self.client.call(
            "POST", "/auth/refresh", open_auth=True, json={"refresh_token": old_refresh}, expect=(401,)
        )
        check(replay.code == "invalid_token", f"replayed refresh: {replay.code}")
        laptop.refresh_token = ""  # no silent refresh: the next call must see the revoked token
        gone = self.client.call("GET", "/users/me", headers={"Authorization": f"Bearer {laptop.access_token}"},
                                expect=(401,))
        check(gone.code == "invalid_token", "the replay did not revoke the login's tokens")

    def s_no_token(self) -> None:
        request_id = str(uuid.uuid4())
        answer = self.client.call("GET", "/users/me", headers={"X-Request-ID": request_id}, expect=(401,))
        check(answer.code == "not_authenticated", f"code {answer.code}")
        check(answer.headers.get("X-Request-ID") == request_id, "X-Request-ID not echoed")

    def s_profile(self) -> None:
        me = self.client.me(self.ada)
        check(me["email"] == self.ada.email and "facebook_linked" in me and "location" in me, "own fields missing")
        updated = self.client.me_update(self.ada, bio="Counting engines", name="Ada L")
        check(updated["bio"] == "Counting engines" and updated["name"] == "Ada L", "PATCH not applied")
        pictured = self.client.picture_set(self.ada, make_photo(self.rng).upload())
        check(pictured["picture_url"] and pictured["picture_thumbnail_url"], "no picture urls")
        location = self.client.location_set(self.ada, 51.5072, -0.1276)
        check(location["country_code"] == "GB" and location["grid_cell"], f"location not resolved: {location}")
        check(self.client.me(self.ada)["location"]["city"] == location["city"], "location not kept")

    def s_follow(self) -> None:
        check(self.client.user_get(self.ada, self.bob.id).body["is_following"] is False, "is_following before")
        check(self.client.follow(self.ada, self.bob.id).body == {"following": True}, "follow answer")
        check(self.client.follow(self.ada, self.bob.id).body == {"following": True}, "follow again answer")
        self.client.follow(self.cy, self.bob.id)
        bob = self.client.user_get(self.ada, self.bob.id).body
        check(bob["followers_count"] == 2 and bob["is_following"] is True, f"counts after follow: {bob}")
        check(self.client.follow(self.ada, self.ada.id, expect=(400,)).code == "cannot_follow_self", "self follow")
        self.client.follow(self.ada, "999999999999", expect=(404,))

    def s_lists(self) -> None:
        followers = [row["user"]["id"] for row in self.client.followers(self.ada, self.bob.id)["results"]]
        check(followers == [self.cy.id, self.ada.id], f"followers newest first: {followers}")
        following = [row["user"]["id"] for row in self.client.following(self.bob, self.ada.id)["results"]]
        check(following == [self.bob.id], f"following: {following}")

    def s_search(self) -> None:
        found = [user["id"] for user in self.client.search(self.ada, self.bob.email)["results"]]
        check(found == [self.bob.id], f"exact email: {found}")
        found = [user["id"] for user in self.client.search(self.ada, self.bob.username[:6])["results"]]
        check(self.bob.id in found, f"username prefix: {found}")

    def s_post(self) -> None:
        photo = make_photo(self.rng, exif_share=1.0)
        while photo.orientation not in (6, 8):
            photo = make_photo(self.rng, exif_share=1.0)
        paris = {"latitude": 48.8566, "longitude": 2.3522}
        post = self.client.post_create(self.bob, photo.upload(), caption="Engines #e2e", **paris)
        self.post_id = post["id"]
        check(post["caption"] == "Engines #e2e" and post["author"]["id"] == self.bob.id, "post fields")
        check(post["location"]["country_code"] == "FR", f"post location: {post['location']}")
        check((post["photo"]["width"] > post["photo"]["height"]) == photo.shown_landscape, "EXIF orientation ignored")
        files = {"photo": ("photo.jpg", b"these bytes are no image", "image/jpeg")}
        self.client.call("POST", "/posts", user=self.bob, files=files, expect=(415,))

    def s_post_read(self) -> None:
        post = self.client.post_get(self.ada, self.post_id).body
        check(post["liked_by_me"] is False and post["likes_count"] == 0, "fresh post counters")
        posts = [p["id"] for p in self.client.user_posts(self.ada, self.bob.id)["results"]]
        check(posts == [self.post_id], f"author's posts: {posts}")
        check(self.client.me(self.bob)["posts_count"] == 1, "posts_count")

    def s_feed(self) -> None:
        self.wait_feed(self.ada, self.post_id, present=True)
        check(self.post_id in self.feed_ids(self.bob), "the author's own feed lacks the post")
        first = self.client.feed(self.ada)
        again = self.client.feed(self.ada, etag=first.headers["ETag"])
        check(again.status == 304 and not again.body, f"If-None-Match gave {again.status}")

    def s_like(self) -> None:
        check(self.client.like(self.ada, self.post_id).body == {"liked": True, "likes_count": 1}, "like")
        check(self.client.like(self.ada, self.post_id).body == {"liked": True, "likes_count": 1}, "like again")
        likers = [row["user"]["id"] for row in self.client.likes(self.bob, self.post_id)["results"]]
        check(likers == [self.ada.id], f"likes list: {likers}")
        check(self.client.unlike(self.ada, self.post_id).body == {"liked": False, "likes_count": 0}, "unlike")
        self.client.like(self.ada, self.post_id)
        post = self.client.post_get(self.ada, self.post_id).body
        check(post["liked_by_me"] and post["latest_like"]["user"]["id"] == self.ada.id, "latest_like")

    def s_comments(self) -> None:
        mine = self.client.comment_create(self.ada, self.post_id, "First!").body
        theirs = self.client.comment_create(self.cy, self.post_id, "Second").body
        texts = [c["text"] for c in self.client.comments(self.bob, self.post_id)["results"]]
        check(texts == ["First!", "Second"], f"comments oldest first: {texts}")
        # Neither the comment's author nor the post's: 404, as for a post that is not the caller's (API.md: the
        # server answers 404 for objects the caller may not touch; the comment stays).
        refused = self.client.comment_delete(self.cy, mine["id"], expect=(404,))
        check(refused.code == "comment_not_found", f"someone else's comment: {refused.code}")
        self.client.comment_delete(self.bob, theirs["id"])  # the post's author may
        check(self.client.post_get(self.bob, self.post_id).body["comments_count"] == 1, "comments_count")
        self.comment_id = mine["id"]

    def s_idempotency(self) -> None:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        path, body = {"post_id": self.post_id}, {"text": "once"}
        first = self.client.call("POST", "/posts/{post_id}/comments", path=path, user=self.cy, json=body,
                                 headers=key, expect=(201,))
        second = self.client.call("POST", "/posts/{post_id}/comments", path=path, user=self.cy, json=body,
                                  headers=key, expect=(201,))
        check(first.body["id"] == second.body["id"], "the repeat made a second comment")
        check(second.headers.get("Idempotent-Replayed") == "true", "no Idempotent-Replayed header")
        self.client.comment_delete(self.cy, first.body["id"])

    def s_post_not_yours(self) -> None:
        self.client.post_delete(self.cy, self.post_id, expect=(404,))
        self.client.post_get(self.cy, self.post_id)

    def s_notifications(self) -> None:
        deadline = time.monotonic() + FEED_WAIT_SECONDS
        while (unread := self.client.unread_count(self.bob)).body.get("unread_count", 0) < 4:
            # Two follows, a like and a comment (the deleted comments and the unliked like took theirs away).
            check(time.monotonic() < deadline, f"bob's unread count stayed at {unread.body}")
            time.sleep(0.2)
        notifications = self.client.notifications(self.bob).body["results"]
        kinds = {n["type"] for n in notifications}
        check({"follow", "like", "comment"} <= kinds, f"notification types: {kinds}")
        for notification in notifications:
            actor = notification["actor"]
            check(isinstance(actor, dict) and {"id", "username"} <= set(actor), f"actor is no User: {actor}")
            check(actor["id"] != self.bob.id, f"a notification of bob's own action: {notification}")
        check({n["actor"]["id"] for n in notifications} <= {self.ada.id, self.cy.id}, "an actor bob never met")
        groups = self.client.notifications(self.bob, grouped=True).body["results"]
        check(all("actors_count" in group for group in groups) and groups, "grouped notifications")
        check(all(actor["id"] != self.bob.id for group in groups for actor in group["actors"]), "bob among actors")
        check(self.client.notifications_read(self.bob).body == {"unread_count": 0}, "read all")
        check(self.client.unread_count(self.bob).body == {"unread_count": 0}, "unread after read")

    def s_devices(self) -> None:
        ios, android = uuid.uuid4().hex * 2, f"{uuid.uuid4().hex}:APA91b-{uuid.uuid4().hex}"
        answer = self.client.device_register(self.ada, ios, "ios")
        check(answer.body["registration_id"] == ios and answer.body["platform"] == "ios", "device body")
        answer = self.client.device_register(self.ada, android, "android")
        expected = {"registration_id": android, "platform": "android", "device_id": self.ada.device_id}
        check(answer.body == expected, f"android device body: {answer.body}")
        # The phone changes hands: bob registers the same token, it is his now and no longer ada's.
        answer = self.client.device_register(self.bob, ios, "ios")
        check(answer.body["device_id"] == self.bob.device_id, f"re-registered device body: {answer.body}")
        gone = self.client.device_delete(self.ada, ios, expect=(404,))
        check(gone.code == "device_not_found", f"a re-assigned device: {gone.code}")
        other = self.client.device_delete(self.cy, android, expect=(404,))  # another user's device
        check(other.code == "device_not_found", f"another user's device: {other.code}")
        self.client.device_delete(self.bob, ios)
        self.client.device_delete(self.ada, android)  # still ada's: cy's attempt changed nothing
        self.client.device_delete(self.ada, android, expect=(404,))

    def s_top(self) -> None:
        users = self.client.top_users(self.ada)
        posts = self.client.top_posts(self.ada)
        for body in (users, posts):
            check({"period", "nearby", "country", "world"} <= set(body), f"top keys: {set(body)}")
            check(all(len(body[scope]) <= 30 for scope in ("nearby", "country", "world")), "more than 30")

    def s_unfollow(self) -> None:
        check(self.client.unfollow(self.ada, self.bob.id) == {"following": False}, "unfollow answer")
        self.wait_feed(self.ada, self.post_id, present=False)
        check(self.client.user_get(self.ada, self.bob.id).body["followers_count"] == 1, "followers_count after")

    def s_post_delete(self) -> None:
        self.client.post_delete(self.bob, self.post_id)
        self.client.post_get(self.cy, self.post_id, expect=(404,))
        self.wait_feed(self.cy, self.post_id, present=False)
        check(self.client.me(self.bob)["posts_count"] == 0, "posts_count after delete")

    def s_logout(self) -> None:
        phone, tablet, watch = self.cy, self.device(self.cy, "tablet"), self.device(self.cy, "watch")
        for user in (tablet, watch):
            self.client.login(user)
        self.client.logout(phone, "other_devices")
        for user in (tablet, watch):
            self._revoked(user)
        check(self.client.me(phone)["id"] == self.cy.id, "other_devices logged this device out")
        self.client.logout(phone, "this_device")
        self._revoked(phone)
        first, second = self.device(self.ada, "one"), self.device(self.ada, "two")
        for user in (first, second):
            self.client.login(user)
        self.client.logout(first, "all_devices")
        for user in (first, second, self.ada):
            self._revoked(user)

    def _revoked(self, user: BotUser) -> None:
        headers = {"Authorization": f"Bearer {user.access_token}"}
        check(self.client.call("GET", "/users/me", headers=headers, expect=(401,)).code == "invalid_token",
              f"{user.device_id} still logged in")
