"""Set-based test data for the benchmarks: one INSERT ... SELECT per table, counted by the database.

Row by row through the ORM, a 1,000,000-follower graph took about 5 minutes (3,100 users/s) for a
fan-out of 2 s. Here the database generates the rows itself: ``generate_series`` on PostgreSQL, a
recursive CTE on SQLite. Import only after ``harness.setup()``.
"""

from django.db import connection, transaction
from django.db.models import Model

from apps.accounts.models import User
from apps.social.models import Follow

USER_TABLE, FOLLOW_TABLE = User._meta.db_table, Follow._meta.db_table  # constants, never input


def _series() -> tuple[str, str]:
    """(a WITH prefix, a FROM clause) yielding i = 1..count as ``n.i``, the count a parameter."""
    if connection.vendor == "postgresql":
        return "", "generate_series(1, %s) AS n(i)"
    return "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) ", "n"


def series_insert(model: type[Model], *, count: int, computed: dict[str, str], fixed: dict | None = None) -> None:
    """``count`` rows of ``model`` in one statement: ``computed`` maps columns to SQL expressions of ``n.i``
    (1..count), ``fixed`` to values; every other column but the id gets its field's default, as the ORM
    would write it."""
    fixed = fixed or {}
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in computed:
            values.append(computed[field.column])
        else:
            values.append("%s")
            value = fixed[field.column] if field.column in fixed else field.get_default()
            params.append(field.get_db_prep_save(value, connection))
    prefix, source = _series()
    sql = (f"{prefix}INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
           f"SELECT {', '.join(values)} FROM {source}")
    params = [count, *params] if connection.vendor == "sqlite" else [*params, count]  # the CTE's count comes first
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def users_create(*, count: int, prefix: str, password: str, following: int = 0) -> range:
    """``count`` users named ``{prefix}{i}`` with one shared password hash (and a ``following_count``, for the
    follows the caller adds); their ids (contiguous)."""
    if not prefix.isidentifier():
        raise ValueError(f"{prefix!r}: a user name prefix is put into SQL, so letters and digits only.")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {USER_TABLE}")  # noqa: S608
        before = cursor.fetchone()[0]
    series_insert(User, count=count, fixed={"password": password, "following_count": following}, computed={
        "email": f"'{prefix}' || n.i || '@bench.invalid'", "username": f"'{prefix}' || n.i",
        "name": f"'{prefix.title()} ' || n.i",
    })
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {USER_TABLE} WHERE id > %s", [before])  # noqa: S608
        first, last = cursor.fetchone()
    if last - first + 1 != count:
        raise SystemExit(f"Expected {count} contiguous user ids, got {first}..{last}.")
    return range(first, last + 1)


def followers_create(*, followee_id: int, follower_ids: range) -> None:
    """Every user in ``follower_ids`` follows ``followee_id``: one INSERT ... SELECT from the users table."""
    created_at = connection.ops.adapt_datetimefield_value(Follow._meta.get_field("created_at").get_default())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FOLLOW_TABLE} (follower_id, followee_id, created_at) "  # noqa: S608
            f"SELECT id, %s, %s FROM {USER_TABLE} WHERE id >= %s AND id <= %s AND id <> %s",
            [followee_id, created_at, follower_ids.start, follower_ids.stop - 1, followee_id],
        )
