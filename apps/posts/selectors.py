"""Reads of posts, likes and comments, prepared for a viewer with a fixed number of queries.

A page of posts costs the same whatever its size: one query for the posts (with author,
``liked_by_me`` and the ids of the latest like and comment), one for those likes with
their users, one for those comments with their authors, and one call that marks every
user on the page for the viewer (``is_following``).
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery, Value

from apps.accounts.models import User
from apps.accounts.selectors import user_columns, user_get, user_row, user_rows_mark_for_viewer, users_mark_for_viewer
from apps.common.exceptions import NotFound
from apps.common.ids import parse_id
from apps.common.prepared import PreparedQuery
from apps.posts.models import Comment, Like, Post


def _viewer_id(viewer: User | None) -> int | None:
    return viewer.pk if viewer is not None and viewer.is_authenticated else None


def _not_found() -> NotFound:
    return NotFound("No such post.", code="post_not_found")


# --- posts ------------------------------------------------------------------------


def post_queryset(*, viewer: User | None) -> QuerySet[Post]:
    """Visible posts with author, ``liked_by_me`` and the ids of the latest like and comment; prepare each page."""
    return _post_queryset(viewer_id=_viewer_id(viewer))


def _post_queryset(*, viewer_id: int | None) -> QuerySet[Post]:
    latest_like = Like.objects.filter(post=OuterRef("pk")).order_by("-created_at", "-id").values("id")[:1]
    latest_comment = Comment.objects.filter(post=OuterRef("pk")).order_by("-created_at", "-id").values("id")[:1]
    liked = Exists(Like.objects.filter(post=OuterRef("pk"), user_id=viewer_id)) if viewer_id else Value(False)
    return (
        Post.objects.filter(author__is_active=True)
        .select_related("author")
        .annotate(liked_by_me=liked, latest_like_id=Subquery(latest_like), latest_comment_id=Subquery(latest_comment))
    )


def _by_id(queryset: QuerySet, ids: Iterable[int | None]) -> dict:
    wanted = {pk for pk in ids if pk is not None}
    return {obj.pk: obj for obj in queryset.filter(pk__in=wanted)} if wanted else {}


def posts_prepare(*, posts: Iterable[Post], viewer: User | None) -> list[Post]:
    """Attach ``latest_like``/``latest_comment`` and mark every user for ``viewer``; posts come from post_queryset."""
    posts = list(posts)
    likes = _by_id(Like.objects.select_related("user"), (post.latest_like_id for post in posts))
    comments = _by_id(Comment.objects.select_related("author"), (post.latest_comment_id for post in posts))
    for post in posts:
        post.latest_like = likes.get(post.latest_like_id)
        post.latest_comment = comments.get(post.latest_comment_id)
    users = [post.author for post in posts]
    users += [like.user for like in likes.values()] + [comment.author for comment in comments.values()]
    users_mark_for_viewer(users=users, viewer=viewer)
    return posts


def post_list_prepared(*, posts: QuerySet[Post] | Sequence[int], viewer: User | None) -> list[Post]:
    """Fully prepared posts from a Post queryset or a list of ids, in that order; hidden or missing ones dropped."""
    post_ids = list(posts.values_list("pk", flat=True)) if isinstance(posts, QuerySet) else [int(pk) for pk in posts]
    found = _by_id(post_queryset(viewer=viewer), post_ids)
    return posts_prepare(posts=[found[pk] for pk in dict.fromkeys(post_ids) if pk in found], viewer=viewer)


def post_get(*, post_id: int | str, viewer: User | None) -> Post:
    """One visible post, prepared for ``viewer``, or NotFound."""
    try:
        post = post_queryset(viewer=viewer).get(pk=parse_id(post_id))
    except (Post.DoesNotExist, ValueError) as exc:
        raise _not_found() from exc
    return posts_prepare(posts=[post], viewer=viewer)[0]


def post_list_for_user(*, user_id: int | str, viewer: User | None) -> QuerySet[Post]:
    """A user's posts (unordered: the paginator orders newest first), or NotFound; prepare each page."""
    user = user_get(user_id=user_id, viewer=viewer)
    return post_queryset(viewer=viewer).filter(author_id=user.pk)


def post_keys_for_user(*, user_id: int | str, viewer: User | None) -> QuerySet:
    """A user's posts as ``{"id", "created_at"}`` rows for the paginator, or NotFound; render each page's ids
    with post_rows_prepared (a page's posts then come from its compiled query, not a fresh heavy one)."""
    user = user_get(user_id=user_id, viewer=viewer)  # active, else NotFound: the posts need no author join
    return Post.objects.filter(author_id=user.pk).values("id", "created_at")


# --- the same, as plain rows for the renderers (apps.posts.serializers.post_render) ------------
# Model instances cost a third of a feed request (full rows of posts, likes, comments and four
# users each); rows carry only the rendered columns, with the same queries per page as above.

POST_COLUMNS = (
    "id", "created_at", "caption", "photo", "photo_thumbnail", "width", "height", "blurhash",
    "latitude", "longitude", "city", "country_code", "grid_cell", "likes_count", "comments_count",
    "liked_by_me", "latest_like_id", "latest_comment_id",
)
LIKE_COLUMNS = ("id", "created_at", *user_columns("user__"))
COMMENT_COLUMNS = ("id", "post_id", "text", "created_at", *user_columns("author__"))


def post_rows(posts: QuerySet[Post]) -> QuerySet:
    """A post_queryset (filtered) as rows of POST_COLUMNS and the author's columns; prepare each page."""
    return posts.values(*POST_COLUMNS, *user_columns("author__"))


def like_rows(likes: QuerySet[Like]) -> QuerySet:
    """A like_list queryset as rows of LIKE_COLUMNS; prepare each page with like_rows_prepare."""
    return likes.values(*LIKE_COLUMNS)


def comment_rows(comments: QuerySet[Comment]) -> QuerySet:
    """A comment_list queryset as rows of COMMENT_COLUMNS; prepare each page with comment_rows_prepare."""
    return comments.values(*COMMENT_COLUMNS)


def _rows_by_id(rows: PreparedQuery, ids: Iterable[int | None], **kwargs) -> dict[int, dict]:
    wanted = sorted({pk for pk in ids if pk is not None})
    return {row["id"]: row for row in rows.rows(ids=wanted, **kwargs)} if wanted else {}


# The page's three row queries, compiled once (apps.common.prepared): they are most of a feed's SQL work.
_post_rows_by_id = PreparedQuery(
    lambda ids, viewer_id: post_rows(_post_queryset(viewer_id=viewer_id)).filter(pk__in=ids)
)
_like_rows_by_id = PreparedQuery(lambda ids: like_rows(Like.objects.filter(pk__in=ids)))
_comment_rows_by_id = PreparedQuery(lambda ids: comment_rows(Comment.objects.filter(pk__in=ids)))


def _like_row(row: dict) -> dict:
    return {"id": row["id"], "created_at": row["created_at"], "user": user_row(row, "user__")}


def _comment_row(row: dict) -> dict:
    return {key: row[key] for key in ("id", "post_id", "text", "created_at")} | {"author": user_row(row, "author__")}


def like_rows_prepare(*, rows: Iterable[dict], viewer: User | None) -> list[dict]:
    """Like rows as ``{"id", "created_at", "user": user row}``, the users marked for ``viewer`` with one call."""
    likes = [_like_row(row) for row in rows]
    user_rows_mark_for_viewer(rows=[like["user"] for like in likes], viewer=viewer)
    return likes


def comment_rows_prepare(*, rows: Iterable[dict], viewer: User | None) -> list[dict]:
    """Comment rows with ``author`` as a user row, marked for ``viewer`` with one call."""
    comments = [_comment_row(row) for row in rows]
    user_rows_mark_for_viewer(rows=[comment["author"] for comment in comments], viewer=viewer)
    return comments


def comment_rows_by_id(*, comment_ids: Iterable[int]) -> dict[int, dict]:
    """Comment rows (``author`` as a user row, not yet marked for a viewer) by id, in one query; gone ones left out."""
    return {pk: _comment_row(row) for pk, row in _rows_by_id(_comment_rows_by_id, comment_ids).items()}


def post_rows_prepare(*, rows: Iterable[dict], viewer: User | None) -> list[dict]:
    """post_rows rows with ``author``, ``latest_like`` and ``latest_comment`` attached, every user marked."""
    posts = [{key: row[key] for key in POST_COLUMNS} | {"author": user_row(row, "author__")} for row in rows]
    likes = _rows_by_id(_like_rows_by_id, (post["latest_like_id"] for post in posts))
    comments = _rows_by_id(_comment_rows_by_id, (post["latest_comment_id"] for post in posts))
    likes = {pk: _like_row(row) for pk, row in likes.items()}
    comments = {pk: _comment_row(row) for pk, row in comments.items()}
    for post in posts:
        post["latest_like"] = likes.get(post["latest_like_id"])
        post["latest_comment"] = comments.get(post["latest_comment_id"])
    users = [post["author"] for post in posts]
    users += [like["user"] for like in likes.values()] + [comment["author"] for comment in comments.values()]
    user_rows_mark_for_viewer(rows=users, viewer=viewer)
    return posts


def post_rows_prepared(*, post_ids: Sequence[int], viewer: User | None) -> list[dict]:
    """post_list_prepared as rows: prepared post rows in the order of ``post_ids``, hidden or missing ones dropped."""
    post_ids = [int(pk) for pk in post_ids]
    found = _rows_by_id(_post_rows_by_id, post_ids, viewer_id=_viewer_id(viewer))
    return post_rows_prepare(rows=[found[pk] for pk in dict.fromkeys(post_ids) if pk in found], viewer=viewer)


def post_row_get(*, post_id: int | str, viewer: User | None) -> dict:
    """post_get as a prepared row, or NotFound."""
    try:
        rows = _post_rows_by_id.rows(ids=[parse_id(post_id)], viewer_id=_viewer_id(viewer))
    except ValueError as exc:
        raise _not_found() from exc
    if not rows:
        raise _not_found()
    return post_rows_prepare(rows=rows, viewer=viewer)[0]


def _visible_post_id(*, post_id: int | str) -> int:
    try:
        pk = parse_id(post_id)
    except ValueError as exc:
        raise _not_found() from exc
    if not Post.objects.filter(pk=pk, author__is_active=True).exists():
        raise _not_found()
    return pk


# --- likes and comments -------------------------------------------------------------


def like_list(*, post_id: int | str, viewer: User | None) -> QuerySet[Like]:
    """The likes of a visible post with their users, or NotFound; prepare each page with likes_prepare."""
    return Like.objects.filter(post_id=_visible_post_id(post_id=post_id)).select_related("user")


def likes_prepare(*, likes: Iterable[Like], viewer: User | None) -> list[Like]:
    """Mark the likers for ``viewer`` with one call."""
    likes = list(likes)
    users_mark_for_viewer(users=[like.user for like in likes], viewer=viewer)
    return likes


def comment_list(*, post_id: int | str, viewer: User | None) -> QuerySet[Comment]:
    """The comments of a visible post with their authors, or NotFound; prepare each page with comments_prepare."""
    return Comment.objects.filter(post_id=_visible_post_id(post_id=post_id)).select_related("author")


def comments_prepare(*, comments: Iterable[Comment], viewer: User | None) -> list[Comment]:
    """Mark the comment authors for ``viewer`` with one call."""
    comments = list(comments)
    users_mark_for_viewer(users=[comment.author for comment in comments], viewer=viewer)
    return comments


def post_refs_for_author(*, author_id: int, limit: int) -> list[tuple[int, datetime]]:
    """The author's latest ``limit`` posts as ``(id, created_at)``, newest first (for feed backfill)."""
    posts = Post.objects.filter(author_id=author_id).order_by("-created_at", "-id")
    return list(posts.values_list("id", "created_at")[:limit])


POST_TABLE = Post._meta.db_table  # a constant, never input
# SQLite allows at most 500 terms in a compound SELECT (SQLITE_MAX_COMPOUND_SELECT).
SQLITE_UNION_MAX = 400


def _newest_of_author_sql(*, author: str, bounded: bool, floored: bool) -> str:
    """One author's newest posts (below a bound, from a floor) on the (author, -created_at, -id) index, in
    its order."""
    where = f"author_id = {author}"
    if bounded:  # created_at <= bound makes the index range; the row comparison settles ties on the id
        where += " AND created_at <= %s AND (created_at, id) < (%s, %s)"
    if floored:
        where += " AND created_at >= %s AND (created_at, id) >= (%s, %s)"
    return (f"SELECT id, author_id, created_at FROM {POST_TABLE} WHERE {where} "  # noqa: S608
            "ORDER BY created_at DESC, id DESC LIMIT %s")


@cache
def _newest_of_authors_sql(*, vendor: str, authors: int, bounded: bool, floored: bool) -> str:
    # Built once per shape: the text of a merge of 20 authors is long, and this runs on every feed page.
    order = "ORDER BY created_at DESC, id DESC LIMIT %s"
    if vendor == "postgresql":
        one = _newest_of_author_sql(author="a.author", bounded=bounded, floored=floored)
        return f"SELECT p.* FROM unnest(%s::bigint[]) AS a(author) CROSS JOIN LATERAL ({one}) AS p {order}"  # noqa: S608
    one = _newest_of_author_sql(author="%s", bounded=bounded, floored=floored)
    if authors <= SQLITE_UNION_MAX:
        terms = (f"SELECT * FROM ({one}) AS a{n}" for n in range(authors))  # noqa: S608  constants only
        return " UNION ALL ".join(terms) + f" {order}"
    # Very many authors on SQLite: one IN over their index ranges, sorted (correct, slower).
    return one.replace("author_id = %s", f"author_id IN ({', '.join(['%s'] * authors)})", 1)


def _aware(moment: datetime | str) -> datetime:
    # Plain cursors on SQLite hand back text through a compound SELECT, or naive UTC datetimes.
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _newest_of_authors_args(*, vendor: str, author_ids: list[int], bound: list, limit: int) -> list:
    if vendor == "postgresql":
        return ["{" + ",".join(map(str, author_ids)) + "}", *bound, limit, limit]
    if len(author_ids) <= SQLITE_UNION_MAX:
        return [value for author_id in author_ids for value in (author_id, *bound, limit)] + [limit]
    return [*author_ids, *bound, limit]


def _key_params(key: tuple[datetime, int] | None) -> list:
    if key is None:
        return []
    moment = connection.ops.adapt_datetimefield_value(key[0])
    return [moment, moment, key[1]]


def post_refs_for_authors(
    *, author_ids: Sequence[int], before: tuple[datetime, int] | None, limit: int,
    floor: tuple[datetime, int] | None = None,
) -> list[tuple[int, int, datetime]]:
    """The newest ``limit`` posts of all ``author_ids`` together, strictly below ``before`` and from ``floor``
    on (both (created_at, id)), as ``(id, author_id, created_at)``, newest first; one query, ``limit`` index
    rows per author at most (each author's own index range, merged), however many posts they have."""
    author_ids = sorted(set(author_ids))
    if not author_ids or limit <= 0:
        return []
    bound = _key_params(before) + _key_params(floor)
    vendor = connection.vendor
    sql = _newest_of_authors_sql(vendor=vendor, authors=len(author_ids), bounded=before is not None,
                                 floored=floor is not None)
    args = _newest_of_authors_args(vendor=vendor, author_ids=author_ids, bound=bound, limit=limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return [(row[0], row[1], _aware(row[2])) for row in cursor.fetchall()]


def _locked(rows: QuerySet, lock: bool) -> QuerySet:
    return rows.select_for_update() if lock else rows


def like_created_at(*, post_id: int, user_id: int, lock: bool = False) -> datetime | None:
    """When ``user_id`` liked the post, or None if they do not (any more). ``lock`` (inside a transaction)
    holds the like row, so an unlike or a post deletion waits until the caller's transaction ends."""
    rows = _locked(Like.objects.filter(post_id=post_id, user_id=user_id), lock)
    return rows.values_list("created_at", flat=True).first()


def comment_created_at(*, comment_id: int, lock: bool = False) -> datetime | None:
    """When the comment was made, or None if it is gone; ``lock`` as for ``like_created_at``."""
    return _locked(Comment.objects.filter(pk=comment_id), lock).values_list("created_at", flat=True).first()


def post_exists(*, post_id: int) -> bool:
    """Whether the post is still there (not deleted)."""
    return Post.objects.filter(pk=post_id).exists()


# --- per-period aggregates, for the rankings (apps.ranking composes them into one statement) ------
# Each is a GROUP BY queryset of rows ``(ref, n)``: the database does the counting, and a caller that
# compiles it (``.query.sql_with_params()``) into a bigger statement never brings rows to Python.
# A like or comment on one's own post is not counted: it says nothing about anyone else's interest.


def _likes_by_others(*, start: datetime, end: datetime) -> QuerySet[Like]:
    likes = Like.objects.filter(created_at__gte=start, created_at__lt=end)
    return likes.exclude(user_id=F("post__author_id")).order_by()


def _comments_by_others(*, start: datetime, end: datetime) -> QuerySet[Comment]:
    comments = Comment.objects.filter(created_at__gte=start, created_at__lt=end)
    return comments.exclude(author_id=F("post__author_id")).order_by()


def likes_received_per_author(*, start: datetime, end: datetime) -> QuerySet:
    """Likes made in ``[start, end)`` on others' posts, per post author: rows ``(ref=author id, n)``."""
    return _likes_by_others(start=start, end=end).values(ref=F("post__author_id")).annotate(n=Count("pk"))


def comments_received_per_author(*, start: datetime, end: datetime) -> QuerySet:
    """Comments made in ``[start, end)`` on others' posts, per post author: rows ``(ref=author id, n)``."""
    return _comments_by_others(start=start, end=end).values(ref=F("post__author_id")).annotate(n=Count("pk"))


def likes_received_per_post(*, start: datetime, end: datetime) -> QuerySet:
    """Likes made in ``[start, end)`` by others than the author, per post: rows ``(ref=post id, n)``."""
    return _likes_by_others(start=start, end=end).values(ref=F("post_id")).annotate(n=Count("pk"))


def comments_received_per_post(*, start: datetime, end: datetime) -> QuerySet:
    """Comments made in ``[start, end)`` by others than the author, per post: rows ``(ref=post id, n)``."""
    return _comments_by_others(start=start, end=end).values(ref=F("post_id")).annotate(n=Count("pk"))


def posts_made_per_author(*, start: datetime, end: datetime) -> QuerySet:
    """Posts published in ``[start, end)`` (and not deleted), per author: rows ``(ref=author id, n)``."""
    posts = Post.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    return posts.values(ref=F("author_id")).annotate(n=Count("pk"))


def post_places() -> QuerySet:
    """Visible posts (author active) as rows ``(id, author_id, grid_cell, country_code)``; blank when no place."""
    return Post.objects.filter(author__is_active=True).order_by().values("id", "author_id", "grid_cell", "country_code")
