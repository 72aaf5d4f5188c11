"""Portable pieces of SQL: event properties on every backend, and counts of true conditions.

**Properties.** The warehouse stores ``properties`` as a ``MAP(VARCHAR, VARCHAR)``; DuckDB and
Spark read that map as is. Backends without a usable map type (PostgreSQL, SQLite, BigQuery,
Snowflake, ClickHouse, Trino, MySQL...) hold the same properties as a JSON object in a text
column (:func:`kundresa.store.engines.events_table` uploads them so). :func:`property_value`
is the one accessor the analyses use: ``map[key]`` on a map column, the first value of that
key on an array of ``{key, value}`` pairs (a GA4 table read in place, see
:mod:`kundresa.store.ga4_direct`), the backend's own JSON function on a JSON text column:

===========  ==================================================
backend      SQL for ``property_value(t, "plan")``
===========  ==================================================
PostgreSQL   ``json_extract_path_text(CAST(p AS JSON), 'plan')``
BigQuery     ``JSON_VALUE(p, '$."plan"')``
Snowflake    ``JSON_EXTRACT_PATH_TEXT(p, '"plan"')``
ClickHouse   ``JSONExtract(p, 'plan', 'Nullable(String)')``
Trino        ``json_extract_scalar(p, '$["plan"]')``
SQLite       ``json_extract(p, '$."plan"')``
MySQL        ``JSON_UNQUOTE(JSON_EXTRACT(p, '$."plan"'))``
DuckDB       ``json_extract_string(p, '$."plan"')``
Spark        ``get_json_object(p, '$[\'plan\']')``
others       ``JSON_VALUE(p, '$."plan"')`` (SQL:2016)
===========  ==================================================

:func:`property_keys` lists the keys of each row the same way (an array of strings).

**Conditions.** A boolean cast to an integer is DuckDB's and Spark's, not PostgreSQL's
(``cannot cast type boolean to bigint``); :func:`flag` is ``CASE WHEN c THEN 1 ELSE 0 END``,
which every SQL engine runs, and :func:`count_true` its sum.

**Float literals.** Ibis writes a float literal as a bare number (``0.0``) and drops a cast
of it to ``float64`` as a no-op; PostgreSQL types a bare ``0.0`` as ``numeric``, which comes
back as a decimal. :func:`float_literal` casts the number's text, which every engine reads
as a double (``CAST('0.0' AS DOUBLE PRECISION)`` on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.rules as rlz
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.backends.sql import compilers
from ibis.common.annotations import attribute
from ibis.common.exceptions import OperationNotDefinedError
from ibis.expr.operations import Value

from kundresa.model.events import PROPERTIES

__all__ = ["count_true", "flag", "float_literal", "property_keys", "property_value"]


def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """``1`` where ``condition`` holds, else ``0`` (also when it is null), as an integer.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"x": [1, 5, None]})
    >>> t.select(f=flag(t.x > 2)).to_pandas()["f"].tolist()
    [0, 1, 0]
    """
    return ibis.ifelse(condition, 1, 0).cast("int64")


def count_true(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows satisfy ``condition`` (null counts as false): an ``int64`` reduction."""
    return flag(condition).sum()


def float_literal(value: float) -> ir.FloatingScalar:
    """``value`` as a ``float64`` literal that every backend types as a double (see the
    module notes: a bare float literal is ``numeric`` on PostgreSQL).

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"x": [1]})
    >>> "DOUBLE PRECISION" in ibis.to_sql(t.select(v=float_literal(0.0)), dialect="postgres")
    True
    >>> t.select(v=float_literal(2.5)).to_pyarrow()["v"].type
    DataType(double)
    """
    return ibis.literal(repr(float(value))).cast("float64")


class PropertyValue(Value):
    """The string value of ``key`` in a JSON object held as text (null when absent)."""

    arg: Value[dt.String | dt.JSON]
    key: str

    dtype = dt.string
    shape = rlz.shape_like("arg")


class PropertyKeys(Value):
    """The keys of a JSON object held as text, as an array of strings."""

    arg: Value[dt.String | dt.JSON]

    shape = rlz.shape_like("arg")

    @attribute
    def dtype(self) -> dt.DataType:
        return dt.Array(dt.string)


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _call(name: str, *args: sge.Expression) -> sge.Expression:
    # An anonymous call keeps its arguments verbatim (sqlglot would rewrite JSON paths).
    return sge.Anonymous(this=name, expressions=list(args))


def _text(text: str) -> sge.Expression:
    return sge.Literal.string(text)


def _as_json(arg: sge.Expression) -> sge.Expression:
    return sge.Cast(this=arg, to=sge.DataType.build("JSON"))


_ValueRule = Callable[[sge.Expression, str], sge.Expression]

# Per dialect (sqlglot's name): the SQL for a key's string value in a JSON object held as text.
_VALUE_RULES: dict[str, _ValueRule] = {
    "postgres": lambda a, k: _call("json_extract_path_text", _as_json(a), _text(k)),
    "bigquery": lambda a, k: _call("JSON_VALUE", a, _text(_json_path(k))),
    "snowflake": lambda a, k: _call(
        "JSON_EXTRACT_PATH_TEXT", a, _text('"' + k.replace('"', '""') + '"')
    ),
    "clickhouse": lambda a, k: _call("JSONExtract", a, _text(k), _text("Nullable(String)")),
    "trino": lambda a, k: _call(
        "json_extract_scalar", a, _text('$["' + k.replace('"', '\\"') + '"]')
    ),
    "sqlite": lambda a, k: _call("json_extract", a, _text(_json_path(k))),
    "mysql": lambda a, k: _call("JSON_UNQUOTE", _call("JSON_EXTRACT", a, _text(_json_path(k)))),
    "duckdb": lambda a, k: _call("json_extract_string", a, _text(_json_path(k))),
    "spark": lambda a, k: _call("get_json_object", a, _text("$['" + k.replace("'", "\\'") + "']")),
}
# Per dialect: the SQL for the keys of a JSON object held as text, as an array of strings.
_KEYS_SQL: dict[str, str] = {
    "postgres": "ARRAY(SELECT json_object_keys(CAST({arg} AS JSON)))",
    "bigquery": "JSON_KEYS(PARSE_JSON({arg}), 1)",
    "snowflake": "OBJECT_KEYS(PARSE_JSON({arg}))",
    "clickhouse": "JSONExtractKeys({arg})",
    "trino": "map_keys(CAST(json_parse({arg}) AS MAP(VARCHAR, JSON)))",
    "duckdb": "json_keys({arg})",
    "spark": "json_object_keys({arg})",
}


def _dialect_name(compiler: Any) -> str:
    dialect = compiler.dialect
    name = dialect if isinstance(dialect, str) else type(dialect()).__name__
    name = str(name).lower()
    return "spark" if name in ("pyspark", "databricks") else name


def _visit_value(self: Any, op: PropertyValue, *, arg: sge.Expression, key: str) -> Any:
    rule = _VALUE_RULES.get(_dialect_name(self))
    if rule is None:  # SQL:2016
        return _call("JSON_VALUE", arg, _text(_json_path(key)))
    return rule(arg, key)


def _visit_keys(self: Any, op: PropertyKeys, *, arg: sge.Expression) -> Any:
    template = _KEYS_SQL.get(_dialect_name(self))
    if template is None:
        raise OperationNotDefinedError(
            f"listing property names has no rule for {_dialect_name(self)}"
        )
    return sg.parse_one(template.format(arg=arg.sql(dialect=self.dialect)), dialect=self.dialect)


# Ibis dispatches on the method name visit_<Op>; the base class covers every SQL backend.
compilers.base.SQLGlotCompiler.visit_PropertyValue = _visit_value
compilers.base.SQLGlotCompiler.visit_PropertyKeys = _visit_keys


def property_value(t: ir.Table, key: str) -> ir.StringValue:
    """The string value of property ``key`` on each event of ``t`` (null when absent).

    Parameters
    ----------
    t
        A table with a ``properties`` column: a map of strings, or a JSON object as text.
    key
        The property's name, exactly as in the source file.

    Returns
    -------
    ibis.expr.types.StringValue
        One value per row of ``t``.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"properties": ['{"plan": "pro"}', "{}"]})
    >>> t.select(v=property_value(t, "plan")).to_pyarrow()["v"].to_pylist()
    ['pro', None]
    """
    column: Any = t[PROPERTIES]
    if column.type().is_map():
        return column.get(key)
    if column.type().is_array():  # key/value pairs (a GA4 table read in place)
        return column.filter(lambda p: p.key == key).map(lambda p: p.value)[0]
    result: ir.StringValue = PropertyValue(column, key).to_expr()
    return result


def property_keys(t: ir.Table) -> ir.ArrayValue:
    """The property names of each event of ``t``, as an array of strings."""
    column: Any = t[PROPERTIES]
    if column.type().is_map():
        return column.keys()
    if column.type().is_array():
        return column.map(lambda p: p.key)
    result: ir.ArrayValue = PropertyKeys(column).to_expr()
    return result
