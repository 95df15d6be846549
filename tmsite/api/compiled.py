"""A ``values()`` queryset whose SQL is compiled once per shape and process.

The uncached token list spent ~40% of its CPU in Django compiling the same query again (25
columns, four expressions, the cursor's ordering and the page's slice; measured with the
process-time profiler over 500 calls), while its SQL only changes with the ordering and the
page. ``CompiledQuerySet`` carries a *shape*, a key that names its query exactly: it starts
from the selector's key (``selectors.tokens_rated_rows``) and records each ``order_by()`` and
slice taken on it. Any other change (a filter, an annotation...) drops the shape, and the
queryset compiles and runs as Django's own. With a shape, the first evaluation compiles and
keeps the SQL, its parameters and the column converters; later ones run the kept SQL and
convert the rows the same way, so the rows are the same dicts ``values()`` gives.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from django.db import connections
from django.db.models import QuerySet

_COMPILED: dict[Hashable, CompiledSql] = {}
_COMPILED_MAX = 512  # shapes kept per process (orderings x pages of offsets), oldest dropped


class CompiledQuerySet(QuerySet):
    _shape: Hashable | None = None

    def with_shape(self, shape: Hashable) -> Self:
        clone = self._chain()
        clone._shape = ("values", self.db, shape)
        return clone

    def all(self) -> Self:
        clone = super().all()
        clone._shape = self._shape
        return clone

    def order_by(self, *field_names: Any) -> Self:
        clone = super().order_by(*field_names)
        if self._shape is not None:
            clone._shape = (self._shape, "order_by", field_names)
        return clone

    def __getitem__(self, k: Any) -> Any:
        result = super().__getitem__(k)
        if self._shape is not None and isinstance(k, slice) and isinstance(result, CompiledQuerySet):
            result._shape = (self._shape, "slice", k.start, k.stop, k.step)
        return result

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._shape = None  # a change this class does not know: compiled as usual
        return clone

    def _fetch_all(self) -> None:
        if self._result_cache is None and self._shape is not None and not self._prefetch_related_lookups:
            self._result_cache = self._compiled_rows()
        super()._fetch_all()

    def _compiled_rows(self) -> list[dict[str, Any]]:
        found = _COMPILED.get(self._shape)
        if found is None:
            if self.query.combinator:
                return list(super().iterator())  # a shape this class does not reproduce
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.pop(next(iter(_COMPILED)), None)
            found = _COMPILED[self._shape] = CompiledSql.of(self)
        return [dict(zip(found.names, row, strict=False)) for row in found.rows()]


@dataclass(frozen=True)
class CompiledSql:
    """A queryset's SQL, parameters, column names and converters, taken from Django's compiler
    once, to be run again through a plain cursor (with other parameters of the same shape when
    given) and converted as the queryset's own rows would be."""

    sql: str
    params: tuple[Any, ...]
    names: list[str]
    compiler: Any
    converters: Any
    db: str

    @classmethod
    def of(cls, queryset: QuerySet) -> CompiledSql:
        query = queryset.query
        compiler = query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        # as ValuesIterable names the columns
        names = (
            list(query.selected)
            if query.selected
            else [*query.extra_select, *query.values_select, *query.annotation_select]
        )
        fields = [column for column, _, _ in compiler.select[0 : compiler.col_count]]
        return cls(sql, tuple(params), names, compiler, compiler.get_converters(fields), queryset.db)

    def rows(self, params: Sequence[Any] | None = None) -> list[Any]:
        """The rows as ``values_list()`` gives them (tuples), for ``params`` or the compiled ones."""
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, self.params if params is None else params)
            rows: Any = cursor.fetchall()
        if self.compiler.has_extra_select:
            rows = [row[: self.compiler.col_count] for row in rows]
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        return rows
