"""Hot queries compiled once: the SQL of a fixed-shape ORM query, run again with new parameters.

Building and compiling a QuerySet costs Django 0.1-0.3 ms of Python per query, which on a feed page of
seven small indexed queries is a third of the request (profiled in bench/api_load.py --profile). A
``PreparedQuery`` wraps a function that builds the query from its arguments; the first call of each
shape builds it with sentinel values, compiles it, and keeps the SQL, the parameter positions of the
sentinels and Django's converters. Later calls of that shape run the kept SQL with the arguments in
those positions, through the connection's cursor (so query counting, logging and the database
wrappers still see it), and convert the rows as ``.values()`` would.

A shape is the arguments' kinds: a list argument is padded (with its first item) to the next of a few
sizes, so ``IN`` lists of 1 to 128 items make at most 8 shapes; ``None`` and booleans are part of the
shape (the builder may branch on them). Integers and strings are the parameters. Anything else, or a
build whose SQL does not carry every sentinel as a plain parameter (a lookup that transforms its value,
an empty list Django short-circuits), runs through the ORM every time: the result is the same, only
slower. What is kept lives per thread (a compiler holds its thread's connection).
"""

import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

_LIST_SIZES = (1, 2, 4, 8, 16, 32, 64, 128)
_counter = itertools.count(1)


class _Sentinels:
    """Unique stand-ins for one build's parameters: ints far below any id, strings no client sends."""

    def __init__(self) -> None:
        self.values: dict[Any, int] = {}  # sentinel -> index in the flattened parameters

    def make(self, kind: type, index: int):
        n = next(_counter)
        sentinel = -(1 << 62) - n if kind is int else f"\x00prepared-{n}\x00"
        self.values[sentinel] = index
        return sentinel


class _Compiled:
    __slots__ = ("compiler", "constants", "converters", "names", "positions", "sql")

    def __init__(self, queryset: QuerySet, sentinels: _Sentinels) -> None:
        query = queryset.query
        self.compiler = query.get_compiler(queryset.db)
        sql, params = self.compiler.as_sql()
        self.sql = sql
        self.constants = list(params)
        self.positions = []  # (position in params, index in the flattened arguments)
        for position, param in enumerate(params):
            if isinstance(param, int | str) and not isinstance(param, bool) and param in sentinels.values:
                self.positions.append((position, sentinels.values[param]))
        if {index for _, index in self.positions} != set(sentinels.values.values()):
            raise _NotPreparable
        self.names = list(query.selected) if query.selected else [
            *query.extra_select, *query.values_select, *query.annotation_select,
        ]
        if self.compiler.has_composite_fields([s[0] for s in self.compiler.select[: self.compiler.col_count]]):
            raise _NotPreparable
        self.converters = [
            (position, [_fast(converter, self.compiler.connection) for converter in convs], expression)
            for position, (convs, expression) in self.compiler.get_converters(
                [s[0] for s in self.compiler.select[: self.compiler.col_count]]
            ).items()
        ]

    def run(self, flat: list) -> list[dict]:
        params = list(self.constants)
        for position, index in self.positions:
            params[position] = flat[index]
        connection = self.compiler.connection
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            results = cursor.fetchall()
        names, converters = self.names, self.converters
        if converters:
            results = [list(row) for row in results]
            for row in results:
                for position, convs, expression in converters:
                    value = row[position]
                    for converter in convs:
                        value = converter(value, expression, connection)
                    row[position] = value
        return [dict(zip(names, row, strict=True)) for row in results]


class _NotPreparable(Exception):
    pass


def _fast(converter, connection):
    """SQLite's datetime converter without its per-value settings lookup (a tenth of a feed page's time).

    Python's sqlite3 already parsed the column into a naive datetime (PARSE_DECLTYPES); Django's converter
    then reads ``settings.USE_TZ`` through the lazy settings object for every value and makes the value
    aware in the connection's time zone. The same, with the setting and the zone read once; any other
    value (a string, an aware datetime, None) goes to Django's own converter.
    """
    if connection.vendor != "sqlite" or converter != connection.ops.convert_datetimefield_value:
        return converter
    if not settings.USE_TZ:
        return converter
    zone = connection.timezone

    def convert(value, expression, connection):
        if value.__class__ is datetime and value.tzinfo is None:
            return value.replace(tzinfo=zone)
        return converter(value, expression, connection)

    return convert


def _padded_size(n: int) -> int | None:
    return next((size for size in _LIST_SIZES if size >= n), None)


class PreparedQuery:
    """``build(**kwargs)`` returns a ``.values()`` QuerySet; ``rows(**kwargs)`` its rows, compiled once per shape."""

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self._local = threading.local()

    def rows(self, **kwargs) -> list[dict]:
        shape, flat, template = [], [], {}
        for name in sorted(kwargs):
            value = kwargs[name]
            if value is None or isinstance(value, bool):
                shape.append((name, value))
                template[name] = value
            elif isinstance(value, int | str):
                shape.append((name, type(value)))
                template[name] = (type(value), len(flat))
                flat.append(value)
            elif isinstance(value, list | tuple | set | frozenset) and value:
                items = list(value)
                kind = type(items[0])
                size = _padded_size(len(items))
                if size is None or kind not in (int, str) or any(type(item) is not kind for item in items):
                    return list(self.build(**kwargs))
                shape.append((name, kind, size))
                template[name] = [(kind, len(flat) + i) for i in range(size)]
                flat.extend(items + [items[0]] * (size - len(items)))
            else:
                return list(self.build(**kwargs))
        compiled = self._compiled(tuple(shape), template)
        if compiled is None:
            return list(self.build(**kwargs))
        return compiled.run(flat)

    def _compiled(self, shape: tuple, template: dict) -> _Compiled | None:
        kept = getattr(self._local, "kept", None)
        if kept is None:
            kept = self._local.kept = {}
        if shape in kept:
            return kept[shape]
        sentinels = _Sentinels()
        arguments = {}
        for name, spec in template.items():
            if spec is None or isinstance(spec, bool):
                arguments[name] = spec
            elif isinstance(spec, list):
                arguments[name] = [sentinels.make(kind, index) for kind, index in spec]
            else:
                arguments[name] = sentinels.make(*spec)
        try:
            compiled = _Compiled(self.build(**arguments), sentinels)
        except _NotPreparable:
            compiled = None
        kept[shape] = compiled
        return compiled

