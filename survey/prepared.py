"""Queries the ORM compiles once per database connection; each later call only binds new values.

Building and compiling a queryset's SQL costs 0.3-1.2 ms of CPU, running it on PostgreSQL a
few hundredths of that: on a participant's page, compiling was most of the request. A
:class:`PreparedQuery` keeps the ORM as the one writer of the SQL (names, joins, quoting and
the database's own dialect stay Django's) and compiles it once per connection -- Django keeps
one connection per thread, so per worker thread -- with placeholder values, then finds where
each placeholder landed among the SQL parameters and how the backend converted it.

Only what the ORM compiles to a single SELECT (``values_list``, ``select_for_update``,
``Exists`` annotations, slices) or UPDATE can be prepared; arguments are ints, strings, UUIDs or
datetimes that the query uses as plain values (a lookup on a field, an updated value).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery

# Placeholders: in range of every integer field (Django refuses out-of-range lookups while
# compiling) and unlikely to occur as a constant in a query; each must land exactly once.
_FIRST_INT = 31_001


def _placeholder(kind: type, index: int) -> Any:
    if kind is int:
        return _FIRST_INT + index
    if kind is str:
        return f"\x1fprepared-{index}\x1f"
    if kind is uuid.UUID:
        return uuid.UUID(int=0x5EED_0000_0000_0000_0000_0000_0000_0000 + index)
    if kind is datetime:
        return datetime(2001, 2, 3, 4, 5, 6, 1000 + index, tzinfo=UTC)
    raise ImproperlyConfigured(f"prepared query argument of type {kind.__name__}: use int, str, uuid.UUID or datetime")


def _binder(placeholder: Any, bound: Any, connection) -> Callable[[Any], Any]:
    """How the backend turned ``placeholder`` into the parameter ``bound`` (so a real value is turned alike)."""
    candidates: list[Callable[[Any], Any]] = [lambda v: v]
    if isinstance(bound, int) and type(bound) is not int:  # psycopg's Int2/Int4/...: the SQL type it binds
        candidates.append(type(bound))
    if isinstance(placeholder, uuid.UUID):
        candidates += [lambda v: v.hex, str]
    if isinstance(placeholder, datetime):
        candidates.append(connection.ops.adapt_datetimefield_value)
    for convert in candidates:
        if type(convert(placeholder)) is type(bound) and convert(placeholder) == bound:
            return convert
    raise ImproperlyConfigured(f"prepared query: cannot tell how {placeholder!r} became the parameter {bound!r}")


class _Compiled:
    def __init__(self, query: PreparedQuery, connection) -> None:
        placeholders = [_placeholder(kind, i) for i, kind in enumerate(query.arg_types)]
        built = query.build(*placeholders)
        if isinstance(built, QuerySet):
            compiler = built.query.get_compiler(connection=connection)
            self.sql, params = compiler.as_sql()
            self.compiler = compiler
            self.converters = compiler.get_converters([col for col, _, _ in compiler.select])
        else:  # an UpdateQuery
            compiler = built.get_compiler(connection=connection)
            compiler.pre_sql_setup()  # what execute_sql does first (a join becomes a pk__in subquery)
            self.sql, params = compiler.as_sql()
            self.compiler, self.converters = None, {}
        self.slots: list[tuple[int, Callable[[Any], Any]]] = []  # (parameter index, converter) per argument
        for placeholder in placeholders:
            found = [i for i, p in enumerate(params) if _same(p, placeholder, connection)]
            if len(found) != 1:
                raise ImproperlyConfigured(
                    f"prepared query: argument {placeholder!r} is in the SQL {len(found)} times, "
                    "not once (an argument must be one plain value)"
                )
            self.slots.append((found[0], _binder(placeholder, params[found[0]], connection)))
        self.params = list(params)

    def bind(self, args: tuple) -> list:
        params = list(self.params)
        for (index, convert), value in zip(self.slots, args):
            params[index] = convert(value)
        return params


def _same(param: Any, placeholder: Any, connection) -> bool:
    try:
        _binder(placeholder, param, connection)
    except ImproperlyConfigured:
        return False
    return True


_serial = count()


class PreparedQuery:
    """``build(*args)`` -> a queryset (or ``update_query(...)``), compiled once per connection.

    ``arg_types`` are the types of ``build``'s arguments. Calling the prepared query with real
    arguments runs the compiled SQL with them bound; a SELECT returns its rows as tuples with
    the ORM's converters applied (e.g. SQLite's datetimes), an UPDATE its row count.
    """

    def __init__(self, build: Callable[..., Any], *arg_types: type, using: str = DEFAULT_DB_ALIAS) -> None:
        self.build = build
        self.arg_types = arg_types
        self.using = using
        # A serial number, not id(self): an id is reused once its object is freed, and the
        # connection would then hand a new query the compiled SQL of a dead one.
        self._attr = f"_prepared_query_{next(_serial)}"

    def compiled(self) -> _Compiled:
        connection = connections[self.using]
        compiled = connection.__dict__.get(self._attr)
        if compiled is None:
            compiled = connection.__dict__[self._attr] = _Compiled(self, connection)
        return compiled

    def __call__(self, *args: Any) -> list[tuple] | int:
        if len(args) != len(self.arg_types):
            raise TypeError(f"prepared query takes {len(self.arg_types)} arguments, not {len(args)}")
        compiled = self.compiled()
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.bind(args))
            if compiled.compiler is None:
                return cursor.rowcount
            rows = cursor.fetchall()
        if compiled.converters:
            rows = [tuple(row) for row in compiled.compiler.apply_converters(rows, compiled.converters)]
        return rows


def update_query(queryset: QuerySet, **values: Any) -> UpdateQuery:
    """The UPDATE that ``queryset.update(**values)`` would run, for a :class:`PreparedQuery`."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    return query
