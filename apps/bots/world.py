"""What the bots know they did: users, the follow graph, posts, likes and comments (the read-back reference)."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

from apps.bots.client import BotUser


@dataclass
class PostRecord:
    id: str
    author: BotUser
    day: int
    deleted: bool = False


class World:
    """Thread-safe record of every acknowledged write, for choosing what to do next and for reading back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: list[BotUser] = []
        self.by_id: dict[str, BotUser] = {}
        self.by_city: dict[str, list[BotUser]] = defaultdict(list)
        self.celebrities: list[BotUser] = []
        self.following: dict[str, set[str]] = defaultdict(set)
        self.followers_of: dict[str, set[str]] = defaultdict(set)
        self.followers: Counter[str] = Counter()
        self.posts: dict[str, PostRecord] = {}
        self.posts_of: dict[str, list[PostRecord]] = defaultdict(list)
        self.likes: dict[str, set[str]] = defaultdict(set)  # post id -> user ids
        self.comments: dict[str, tuple[str, str]] = {}  # comment id -> (author id, post id)
        self.comments_of_post: Counter[str] = Counter()
        self.likes_of_user: dict[str, set[str]] = defaultdict(set)  # user id -> post ids
        self.comments_of_user: dict[str, set[str]] = defaultdict(set)  # user id -> comment ids

    def user_added(self, user: BotUser) -> None:
        with self.lock:
            self.users.append(user)
            self.by_id[user.id] = user
            self.by_city[user.city].append(user)
            if user.celebrity:
                self.celebrities.append(user)

    def followed(self, follower: BotUser, followee_id: str) -> bool:
        with self.lock:
            if followee_id in self.following[follower.id]:
                return False
            self.following[follower.id].add(followee_id)
            self.followers_of[followee_id].add(follower.id)
            self.followers[followee_id] += 1
            return True

    def unfollowed(self, follower: BotUser, followee_id: str) -> None:
        with self.lock:
            if followee_id in self.following[follower.id]:
                self.following[follower.id].discard(followee_id)
                self.followers_of[followee_id].discard(follower.id)
                self.followers[followee_id] -= 1

    def follower_ids(self, user_id: str) -> list[str]:
        with self.lock:
            return sorted(self.followers_of[user_id])

    def posted(self, record: PostRecord) -> None:
        with self.lock:
            self.posts[record.id] = record
            self.posts_of[record.author.id].append(record)

    def post_deleted(self, post_id: str) -> None:
        with self.lock:
            record = self.posts[post_id]
            record.deleted = True
            for user_id in self.likes.pop(post_id, set()):
                self.likes_of_user[user_id].discard(post_id)
            self.comments_of_post.pop(post_id, None)
            for comment_id in [cid for cid, (_, pid) in self.comments.items() if pid == post_id]:
                author_id, _ = self.comments.pop(comment_id)
                self.comments_of_user[author_id].discard(comment_id)

    def liked(self, user: BotUser, post_id: str, on: bool) -> None:
        with self.lock:
            if on and post_id in self.posts and not self.posts[post_id].deleted:
                self.likes[post_id].add(user.id)
                self.likes_of_user[user.id].add(post_id)
            elif not on:
                self.likes[post_id].discard(user.id)
                self.likes_of_user[user.id].discard(post_id)

    def commented(self, comment_id: str, user: BotUser, post_id: str) -> None:
        with self.lock:
            if post_id in self.posts and not self.posts[post_id].deleted:
                self.comments[comment_id] = (user.id, post_id)
                self.comments_of_post[post_id] += 1
                self.comments_of_user[user.id].add(comment_id)

    def comment_deleted(self, comment_id: str) -> None:
        with self.lock:
            if comment_id in self.comments:
                author_id, post_id = self.comments.pop(comment_id)
                self.comments_of_post[post_id] -= 1
                self.comments_of_user[author_id].discard(comment_id)

    def liked_by(self, user_id: str) -> list[str]:
        with self.lock:
            return sorted(self.likes_of_user[user_id])

    def comments_by(self, user_id: str) -> list[str]:
        with self.lock:
            return sorted(self.comments_of_user[user_id])

    def live_posts_of(self, user_id: str) -> list[PostRecord]:
        with self.lock:
            return [record for record in self.posts_of[user_id] if not record.deleted]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "users": len(self.users),
                "celebrities": len(self.celebrities),
                "posts": sum(1 for record in self.posts.values() if not record.deleted),
                "follows": sum(self.followers.values()),
                "likes": sum(len(users) for users in self.likes.values()),
                "comments": len(self.comments),
            }
