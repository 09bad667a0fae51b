"""The scores, as SQL: one statement scores every candidate of a period, then one per scope kind keeps
the top of each scope. Works on SQLite (3.25+, window functions) and PostgreSQL.

The inputs are the period's rows with timestamps (likes, comments, follows, posts, unfollows), never
the live counters, so re-ranking a past period gives the same answer. The other apps give them as
GROUP BY querysets (their selectors); they are compiled into one statement here, so no row of
theirs travels to Python. Weights are integers and multiples of 4, so the new-account boost (x1.25)
stays an exact integer and ties are exact on both databases. docs/rankings.md explains the choices.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, QuerySet

from apps.accounts.selectors import user_places
from apps.posts.selectors import (
    comments_received_per_author,
    comments_received_per_post,
    likes_received_per_author,
    likes_received_per_post,
    post_places,
    posts_made_per_author,
)
from apps.ranking.models import PostRank, Unfollow, UserRank
from apps.ranking.periods import Period
from apps.social.selectors import followers_gained_per_user

# Users, per week.
USER_LIKE = 4  # a like received on one's posts, from someone else
USER_COMMENT = 8  # a comment received: more effort than a like
USER_FOLLOWER = 12  # a new follower: a lasting choice
USER_UNFOLLOW = -12  # a distinct user who unfollowed: undoes a follow
USER_POST = 8  # a post made...
USER_POSTS_CAP = 7  # ...counted up to one a day, so posting in bulk buys nothing
NEW_ACCOUNT_BOOST = (5, 4)  # x1.25 on a positive score for accounts created in the week
USER_ORDER = "score DESC, followers DESC, likes DESC, comments DESC, ref"

# Posts, per day.
POST_LIKE = 4
POST_COMMENT = 8
POST_AUTHOR_FOLLOWER = 2  # per follower the author gained that day (and minus per unfollower)
POST_ORDER = "score DESC, comments DESC, likes DESC, ref"

SCORED_USERS = "ranking_scored_users"
SCORED_POSTS = "ranking_scored_posts"


@dataclass(frozen=True)
class Statement:
    sql: str
    params: list


def _compiled(queryset: QuerySet) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _unfollows_per_followee(period: Period) -> QuerySet:
    """Distinct users who unfollowed in the period, per followee: one person unfollowing and
    following again all week long counts once."""
    rows = Unfollow.objects.filter(created_at__gte=period.start, created_at__lt=period.end).order_by()
    return rows.values(ref=F("followee_id")).annotate(n=Count("follower_id", distinct=True))


def _with(ctes: dict[str, QuerySet]) -> tuple[list[str], list]:
    parts, params = [], []
    for name, queryset in ctes.items():
        sql, more = _compiled(queryset)
        parts.append(f"{name} AS ({sql})")
        params += more
    return parts, params


def _summed(names: list[str]) -> str:
    """``ref`` and one integer column per input, summed over a UNION ALL of the inputs' ``(ref, n)``."""
    branches = [
        "SELECT ref, " + ", ".join(f"n AS {other}" if other == name else f"0 AS {other}" for other in names)
        + f" FROM {name}"
        for name in names
    ]
    sums = ", ".join(f"CAST(SUM({name}) AS INTEGER) AS {name}" for name in names)
    return f"SELECT ref, {sums} FROM ({' UNION ALL '.join(branches)}) AS counted GROUP BY ref"


def users_scored(period: Period) -> Statement:
    """CREATE a temporary table of every active user with a positive score in the week: their parts,
    score, place, and ``position`` in the world order."""
    span = {"start": period.start, "end": period.end}
    inputs = {
        "likes": likes_received_per_author(**span),
        "comments": comments_received_per_author(**span),
        "followers": followers_gained_per_user(**span),
        "unfollows": _unfollows_per_followee(period),
        "posts": posts_made_per_author(**span),
        "places": user_places(),
    }
    ctes, params = _with(inputs)
    names = [name for name in inputs if name != "places"]
    boost_num, boost_den = NEW_ACCOUNT_BOOST
    # Driven from the users with LEFT JOINs: 20-25% faster than a UNION ALL of the inputs re-grouped by
    # user, on both databases (bench/rank.py data); a user with none of the inputs is no candidate.
    counts = ", ".join(f"COALESCE({name}.n, 0) AS {name}" for name in names)
    joins = " ".join(f"LEFT JOIN {name} ON {name}.ref = places.id" for name in names)
    anything = " OR ".join(f"{name}.n IS NOT NULL" for name in names)
    sql = f"""
        CREATE TEMPORARY TABLE {SCORED_USERS} AS
        WITH {", ".join(ctes)},
        parts AS (
            SELECT places.id AS ref, {counts}, places.grid_cell AS cell, places.country_code AS country,
                (places.created_at >= %s AND places.created_at < %s) AS new_account
            FROM places {joins} WHERE {anything}
        ),
        base AS (
            SELECT parts.*,
                {USER_LIKE} * likes + {USER_COMMENT} * comments + {USER_FOLLOWER} * followers
                + {USER_UNFOLLOW} * unfollows
                + {USER_POST} * (CASE WHEN posts > {USER_POSTS_CAP} THEN {USER_POSTS_CAP} ELSE posts END) AS points
            FROM parts
        ),
        scored AS (
            SELECT base.*,
                CASE WHEN new_account AND points > 0 THEN points * {boost_num} / {boost_den} ELSE points END AS score
            FROM base
        )
        SELECT scored.*, ROW_NUMBER() OVER (ORDER BY {USER_ORDER}) AS position FROM scored WHERE score > 0
    """
    adapt = connection.ops.adapt_datetimefield_value  # what the ORM sends (SQLite: naive UTC text)
    return Statement(sql, [*params, adapt(period.start), adapt(period.end)])


def posts_scored(period: Period) -> Statement:
    """CREATE a temporary table of every visible post liked or commented by others in the day, with a
    positive score: parts, score, the post's place, and ``position`` in the world order."""
    span = {"start": period.start, "end": period.end}
    inputs = {
        "likes": likes_received_per_post(**span),
        "comments": comments_received_per_post(**span),
        "followers": followers_gained_per_user(**span),
        "unfollows": _unfollows_per_followee(period),
        "places": post_places(),
    }
    ctes, params = _with(inputs)
    sql = f"""
        CREATE TEMPORARY TABLE {SCORED_POSTS} AS
        WITH {", ".join(ctes)},
        parts AS ({_summed(["likes", "comments"])}),
        base AS (
            SELECT parts.*, places.grid_cell AS cell, places.country_code AS country,
                {POST_AUTHOR_FOLLOWER} * (COALESCE(followers.n, 0) - COALESCE(unfollows.n, 0)) AS author
            FROM parts JOIN places ON places.id = parts.ref
            LEFT JOIN followers ON followers.ref = places.author_id
            LEFT JOIN unfollows ON unfollows.ref = places.author_id
        ),
        scored AS (SELECT base.*, {POST_LIKE} * likes + {POST_COMMENT} * comments + author AS score FROM base)
        SELECT scored.*, ROW_NUMBER() OVER (ORDER BY {POST_ORDER}) AS position FROM scored WHERE score > 0
    """
    return Statement(sql, params)


USER_PARTS = ("likes", "comments", "followers", "unfollows", "posts", "new_account")
POST_PARTS = ("likes", "comments", "author")
SCOPE_COLUMN = {"world": None, "country": "country", "cell": "cell"}


def entries_insert(*, kind: str, scope_kind: str, ranking_id: int, generation: int, keep: int) -> Statement:
    """INSERT the top ``keep`` of every scope of one kind (world, each country, each cell) from the
    scored table, ranked in the world order; candidates without that place are left out."""
    if kind == "users":
        model, table, parts, ref = UserRank, SCORED_USERS, USER_PARTS, "user_id"
    else:
        model, table, parts, ref = PostRank, SCORED_POSTS, POST_PARTS, "post_id"
    column = SCOPE_COLUMN[scope_kind]
    if column is None:
        ranked = f"SELECT {table}.*, '' AS scope, position AS place FROM {table}"
    else:
        ranked = (
            f"SELECT {table}.*, {column} AS scope, ROW_NUMBER() OVER (PARTITION BY {column} ORDER BY position) "
            f"AS place FROM {table} WHERE {column} <> ''"
        )
    columns = ["ranking_id", "generation", "scope_kind", "scope", "rank", "position", "score", ref, *parts]
    values = ["%s", "%s", "%s", "scope", "place", "position", "score", "ref", *parts]
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM ({ranked}) AS ranked WHERE place <= %s"
    )
    return Statement(sql, [ranking_id, generation, scope_kind, keep])


def scored_counts(kind: str) -> Statement:
    """How many candidates, countries and cells the scored table holds."""
    table = SCORED_USERS if kind == "users" else SCORED_POSTS
    counts = "COUNT(*), COUNT(DISTINCT NULLIF(country, '')), COUNT(DISTINCT NULLIF(cell, ''))"
    return Statement(f"SELECT {counts} FROM {table}", [])


def scored_drop(kind: str) -> Statement:
    return Statement(f"DROP TABLE IF EXISTS {SCORED_USERS if kind == 'users' else SCORED_POSTS}", [])
