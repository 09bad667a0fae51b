"""Counter increments as upserts: ``INSERT ... ON CONFLICT (key) DO UPDATE SET n = n + excluded.n``.

One statement adds a whole batch's increments, atomically per row, whatever other processes add to the
same rows at the same moment (the same SQL on SQLite 3.24+ and PostgreSQL). Rows are sorted by key so
two transactions lock shared rows in the same order (no deadlock on PostgreSQL), and each key appears
once per statement (PostgreSQL refuses to update a row twice in one).
"""

from collections.abc import Mapping, Sequence

from django.db import connection

from apps.analytics.histogram import COLUMNS
from apps.analytics.models import EndpointCounter, RegionalCounter

# Rows per statement: 31 parameters each, under SQLite's 32,766 and PostgreSQL's 65,535.
ROWS_PER_STATEMENT = 500

ENDPOINT_KEY = ("endpoint", "method", "period", "start")
ENDPOINT_VALUES = ("requests", "s2xx", "s3xx", "s4xx", "s5xx", "duration_ms", *COLUMNS)
REGION_KEY = ("region", "period", "start", "metric")
REGION_VALUES = ("sent", "received")


def _upsert(model, key: Sequence[str], values: Sequence[str], increments: Mapping[tuple, Sequence]) -> int:
    if not increments:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    names = [*key, *values]
    row = "(" + ", ".join(["%s"] * len(names)) + ")"
    sets = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    fields = [model._meta.get_field(name) for name in key]  # keys as the ORM stores them (SQLite's datetimes)
    rows = [
        ([f.get_db_prep_value(part, connection) for f, part in zip(fields, k, strict=True)], list(v))
        for k, v in sorted(increments.items())
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            sql = (
                f"INSERT INTO {table} ({', '.join(names)}) VALUES {', '.join([row] * len(chunk))} "
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
            )
            cursor.execute(sql, [p for k, v in chunk for p in (*k, *v)])
    return len(rows)


def endpoint_counters_add(increments: Mapping[tuple, Sequence]) -> int:
    """Add ``{(endpoint, method, period, start): [requests, s2xx, s3xx, s4xx, s5xx, duration_ms, h00..]}``."""
    return _upsert(EndpointCounter, ENDPOINT_KEY, ENDPOINT_VALUES, increments)


def regional_counters_add(increments: Mapping[tuple, Sequence]) -> int:
    """Add ``{(region, period, start, metric): [sent, received]}``."""
    return _upsert(RegionalCounter, REGION_KEY, REGION_VALUES, increments)
