"""Property filters of funnel steps and exclusions: one syntax, evaluated in Python or in the store's SQL.

Syntax (``where``), a mapping of property name to either a value or an operator mapping::

    {"plan": "pro"}                      equality (typed: 2 is not "2", true is not 1)
    {"plan": {"ne": "free"}}             present and not equal
    {"amount": {"gt": 10, "lte": 100}}   numeric (or string) comparison: gt, gte, lt, lte
    {"plan": {"in": ["pro", "team"]}}    equal to one of the values; ``not_in`` is the opposite
    {"path": {"contains": "/pricing"}}   a string property containing the text
    {"meta": {"eq": null}}               ``eq`` spells equality out (also for null)

A missing property never matches, whatever the operator. Numbers compare as 64-bit floats.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from buyerjourney.errors import QueryError

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains"]
OPS: tuple[str, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains")
Scalar = str | int | float | bool | None
_NUMERIC_JSON = ("BIGINT", "UBIGINT", "DOUBLE", "HUGEINT", "UHUGEINT")
_COMPARE_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class Condition(BaseModel):
    """One test on one property: ``key op value``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    op: Op
    value: Scalar | tuple[Scalar, ...]

    def matches(self, props: Mapping[str, Any] | None) -> bool:
        """True when ``props`` (a decoded properties object) passes this condition."""
        if props is None or self.key not in props:
            return False
        actual = props[self.key]
        op, value = self.op, self.value
        if op == "eq":
            return typed_equal(actual, value)
        if op == "ne":
            return not typed_equal(actual, value)
        if op == "in":
            return any(typed_equal(actual, v) for v in value)  # type: ignore[union-attr]
        if op == "not_in":
            return not any(typed_equal(actual, v) for v in value)  # type: ignore[union-attr]
        if op == "contains":
            return isinstance(actual, str) and str(value) in actual
        kind = _kind(actual)
        if kind != _kind(value) or kind not in ("num", "str"):
            return False
        left, right = (float(actual), float(value)) if kind == "num" else (actual, value)  # type: ignore[arg-type]
        if op == "gt":
            return left > right
        if op == "gte":
            return left >= right
        if op == "lt":
            return left < right
        return left <= right

    def to_sql(self, column: str = "properties") -> tuple[str, list[Any]]:
        """A boolean SQL expression (DuckDB JSON functions) and its parameters; never NULL."""
        pointer = "/" + self.key.replace("~", "~0").replace("/", "~1")
        present = f"json_type({column}, ?) IS NOT NULL"
        if self.op in ("eq", "ne"):
            sql, params = _sql_equal(column, pointer, self.value)
            if self.op == "ne":
                return f"({present} AND NOT {sql})", [pointer, *params]
            return sql, params
        if self.op in ("in", "not_in"):
            parts = [_sql_equal(column, pointer, v) for v in self.value]  # type: ignore[union-attr]
            sql = "(" + " OR ".join(p[0] for p in parts) + ")"
            params = [x for p in parts for x in p[1]]
            if self.op == "not_in":
                return f"({present} AND NOT {sql})", [pointer, *params]
            return sql, params
        if self.op == "contains":
            return (f"coalesce(json_type({column}, ?) = 'VARCHAR' AND contains(json_extract_string({column}, ?), ?), "
                    "false)", [pointer, pointer, self.value])
        symbol = _COMPARE_SQL[self.op]
        if _kind(self.value) == "num":
            return (f"coalesce(json_type({column}, ?) IN {_NUMERIC_JSON} AND "
                    f"TRY_CAST(json_extract_string({column}, ?) AS DOUBLE) {symbol} ?, false)",
                    [pointer, pointer, float(self.value)])  # type: ignore[arg-type]
        return (f"coalesce(json_type({column}, ?) = 'VARCHAR' AND json_extract_string({column}, ?) {symbol} ?, false)",
                [pointer, pointer, self.value])

    def describe(self) -> str:
        """``plan=pro``-like text for tables and errors."""
        symbols = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "contains": "~"}
        if self.op in symbols:
            return f"{self.key}{symbols[self.op]}{json.dumps(self.value)}"
        return f"{self.key} {self.op.replace('_', ' ')} {json.dumps(list(self.value))}"  # type: ignore[arg-type]


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    return "other"


def typed_equal(actual: object, expected: object) -> bool:
    """Equality of JSON values where the JSON type must agree (2 == 2.0, 2 != "2", True != 1)."""
    kind = _kind(actual)
    if kind != _kind(expected):
        return False
    if kind == "num":
        return float(actual) == float(expected)  # type: ignore[arg-type]
    return kind != "other" and actual == expected


def _sql_equal(column: str, pointer: str, value: Scalar) -> tuple[str, list[Any]]:
    kind = _kind(value)
    if kind == "null":
        return f"coalesce(json_type({column}, ?) = 'NULL', false)", [pointer]
    if kind == "bool":
        return (f"coalesce(json_type({column}, ?) = 'BOOLEAN' AND json_extract_string({column}, ?) = ?, false)",
                [pointer, pointer, "true" if value else "false"])
    if kind == "num":
        return (f"coalesce(json_type({column}, ?) IN {_NUMERIC_JSON} AND "
                f"TRY_CAST(json_extract_string({column}, ?) AS DOUBLE) = ?, false)", [pointer, pointer, float(value)])
    return (f"coalesce(json_type({column}, ?) = 'VARCHAR' AND json_extract_string({column}, ?) = ?, false)",
            [pointer, pointer, value])


def _check_scalar(value: object, where: str) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{where}: numbers must be finite, got {value!r}", field="where")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise QueryError(f"{where}: expected a string, number, boolean or null, got {value!r}", field="where")


def parse_where(where: Mapping[str, Any] | None, *, label: str = "where") -> tuple[Condition, ...]:
    """Validate a ``where`` mapping (see the module docstring) into conditions; raises :class:`QueryError`."""
    if where is None:
        return ()
    if isinstance(where, tuple) and all(isinstance(c, Condition) for c in where):
        return where
    if not isinstance(where, Mapping):
        raise QueryError(f"{label}: expected a mapping of property to value, got {where!r}", field="where")
    conditions: list[Condition] = []
    for key, spec in where.items():
        if not isinstance(key, str) or not key:
            raise QueryError(f"{label}: property names must be non-empty strings, got {key!r}", field="where")
        at = f"{label}.{key}"
        if isinstance(spec, Mapping):
            if not spec:
                raise QueryError(f"{at}: empty operator mapping; use e.g. {{'ne': 'x'}}", field="where")
            unknown = [op for op in spec if op not in OPS]
            if unknown:
                raise QueryError(f"{at}: unknown operator {unknown[0]!r}: use one of {', '.join(OPS)} "
                                 "(to compare with an object, there is no operator: objects never match)",
                                 field="where")
            for op, value in spec.items():
                conditions.append(_condition(key, op, value, f"{at}.{op}"))
        elif isinstance(spec, list | tuple):
            raise QueryError(f"{at}: a list is not a value; use {{'in': [...]}} to match one of several",
                             field="where")
        else:
            conditions.append(Condition(key=key, op="eq", value=_check_scalar(spec, at)))
    return tuple(conditions)


def _condition(key: str, op: str, value: object, at: str) -> Condition:
    if op in ("in", "not_in"):
        if not isinstance(value, list | tuple) or not value:
            raise QueryError(f"{at}: expected a non-empty list of values", field="where")
        return Condition(key=key, op=op, value=tuple(_check_scalar(v, at) for v in value))  # type: ignore[arg-type]
    scalar = _check_scalar(value, at)
    if op in _COMPARE_SQL and _kind(scalar) not in ("num", "str"):
        raise QueryError(f"{at}: {op} compares numbers or strings, got {value!r}", field="where")
    if op == "contains" and not isinstance(scalar, str):
        raise QueryError(f"{at}: contains takes a string, got {value!r}", field="where")
    return Condition(key=key, op=op, value=scalar)  # type: ignore[arg-type]


def where_to_dict(conditions: tuple[Condition, ...]) -> dict[str, Any]:
    """The canonical ``where`` mapping of validated conditions (round-trips through :func:`parse_where`)."""
    out: dict[str, dict[str, Any]] = {}
    for c in conditions:
        out.setdefault(c.key, {})[c.op] = list(c.value) if isinstance(c.value, tuple) else c.value
    return out


def all_match(conditions: tuple[Condition, ...], props: Mapping[str, Any] | None) -> bool:
    """True when every condition holds (an empty tuple always holds)."""
    return all(c.matches(props) for c in conditions)


def decode_properties(text: str | None) -> dict[str, Any] | None:
    """A properties JSON text as a dict (``None`` for no properties or a non-object)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
