"""normalize(): every spelling and version of a query a Metabase client may send -> canonical legacy MBQL 4.

Pure unit tests: each case is an input and the exact expected output. Every case is also checked for
idempotence and for leaving its input untouched.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from querybase.query_processor.mbql.normalize import normalize, normalize_parameter, normalize_ref


def mbql(inner: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"database": 1, "type": "query", "query": inner, **top}


def native(body: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"database": 1, "type": "native", "native": body, **top}


def mbql5(*stages: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"lib/type": "mbql/query", "database": 1, "stages": list(stages), **top}


def stage(**keys: Any) -> dict[str, Any]:
    return {"lib/type": "mbql.stage/mbql", **{k.replace("_", "-"): v for k, v in keys.items()}}


def f(id_or_name: int | str, opts: dict[str, Any] | None = None) -> list[Any]:
    """A canonical field ref."""
    return ["field", id_or_name, opts]


def f5(id_or_name: int | str, uuid: str = "u", **opts: Any) -> list[Any]:
    """An MBQL 5 field ref."""
    return ["field", {"lib/uuid": uuid, **{k.replace("_", "-"): v for k, v in opts.items()}}, id_or_name]


TUTORIAL = {
    "type": "query",
    "database": 1,
    "query": {
        "source-table": 2,
        "filter": [">", ["field", 13, None], 100],
        "aggregation": [["avg", ["field", 13, None]]],
        "breakout": [["field", 4, {"source-field": 11}]],
    },
}

TAG_CATEGORY = {
    "id": "2b1a",
    "name": "category",
    "display-name": "Category",
    "type": "dimension",
    "dimension": f(4),
    "widget-type": "string/=",
    "required": False,
    "default": ["Gizmo"],
}

# The complete examples of the MBQL reference (§2.7 and §3) are already canonical.
REFERENCE_MBQL = mbql(
    {
        "source-table": 2,
        "joins": [
            {
                "source-table": 1,
                "alias": "Products",
                "fields": "none",
                "condition": ["=", ["field", 9, None], ["field", 3, {"join-alias": "Products"}]],
            }
        ],
        "expressions": {"Net": ["-", ["field", 13, None], ["field", 10, None]]},
        "filter": [
            "and",
            ["time-interval", ["field", 14, None], -12, "month"],
            ["=", ["field", 1, {"join-alias": "Products"}], "Gizmo", "Widget"],
        ],
        "aggregation": [["sum", ["expression", "Net"]], ["count"]],
        "breakout": [["field", 14, {"temporal-unit": "month"}]],
        "order-by": [["asc", ["field", 14, {"temporal-unit": "month"}]]],
        "limit": 100,
    }
)

REFERENCE_NATIVE = native(
    {
        "query": "SELECT * FROM PRODUCTS WHERE {{category}} [[AND PRICE > {{min_price}}]] "
        "[[AND CREATED_AT >= {{since}}]]",
        "template-tags": {
            "category": TAG_CATEGORY,
            "min_price": {
                "id": "7c0e",
                "name": "min_price",
                "display-name": "Min price",
                "type": "number",
                "default": "10",
            },
            "since": {"id": "9d44", "name": "since", "display-name": "Since", "type": "date"},
        },
    },
    parameters=[
        {"type": "string/=", "target": ["dimension", ["template-tag", "category"]], "value": ["Gizmo"]},
        {"type": "number/=", "target": ["variable", ["template-tag", "min_price"]], "value": 30},
    ],
)

CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("tutorial card query is unchanged", TUTORIAL, TUTORIAL),
    ("reference MBQL example is unchanged", REFERENCE_MBQL, REFERENCE_MBQL),
    ("reference native example is unchanged", REFERENCE_NATIVE, REFERENCE_NATIVE),
    # --- keys -----------------------------------------------------------------------------------------------
    (
        "snake_case, upper-case and ':'-prefixed keys",
        {
            "TYPE": "QUERY",
            ":database": 1,
            "query": {"source_table": 2, ":order_by": [["asc", f(1)]], "LIMIT": 5},
        },
        mbql({"source-table": 2, "order-by": [["asc", f(1)]], "limit": 5}),
    ),
    (
        "page, constraints and middleware keys",
        mbql(
            {"source-table": 2, "page": {":page": 2, "ITEMS": 20}},
            constraints={"max_results": 10, "max-results-bare-rows": 5},
            middleware={"js_int_to_string?": True, "format_rows?": False},
        ),
        mbql(
            {"source-table": 2, "page": {"page": 2, "items": 20}},
            constraints={"max-results": 10, "max-results-bare-rows": 5},
            middleware={"js-int-to-string?": True, "format-rows?": False},
        ),
    ),
    (
        "info is kept verbatim; null top-level keys are dropped",
        mbql(
            {"source-table": 2}, info={"card_id": 5, "context": "ad-hoc"}, parameters=None, constraints=None
        ),
        mbql({"source-table": 2}, info={"card_id": 5, "context": "ad-hoc"}),
    ),
    (
        "empty clauses are dropped, limit 0 is kept",
        mbql(
            {
                "source-table": 2,
                "aggregation": [],
                "breakout": None,
                "filter": None,
                "order-by": [],
                "limit": 0,
            }
        ),
        mbql({"source-table": 2, "limit": 0}),
    ),
    (
        "unknown keys keep their values; lib/* keys are dropped",
        {**mbql({"source-table": 2, "lib/stage-metadata": {}, "my_key": {"a_b": 1}}), "lib/metadata": 1},
        mbql({"source-table": 2, "my-key": {"a_b": 1}}),
    ),
    (
        "tuples from Python callers become lists",
        mbql({"source-table": 2, "breakout": (("field", 1, None),), "filter": ("=", 1, "a")}),
        mbql({"source-table": 2, "breakout": [f(1)], "filter": ["=", f(1), "a"]}),
    ),
    # --- clause names and arguments -------------------------------------------------------------------------
    (
        "aggregation names are case-insensitive and kebab-cased",
        mbql({"source-table": 2, "aggregation": [["COUNT"], ["cum_sum", f(1)], ["Distinct", f(2)]]}),
        mbql({"source-table": 2, "aggregation": [["count"], ["cum-sum", f(1)], ["distinct", f(2)]]}),
    ),
    (
        "filter names are normalized but string values are not",
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "AND",
                    ["is_null", f(1)],
                    ["does_not_contain", f(2), "Abc_DEF"],
                    ["NOT_NULL", f(3)],
                    ["=", f(4), "Gizmo", "WIDGET_X"],
                ],
            }
        ),
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "and",
                    ["is-null", f(1)],
                    ["does-not-contain", f(2), "Abc_DEF"],
                    ["not-null", f(3)],
                    ["=", f(4), "Gizmo", "WIDGET_X"],
                ],
            }
        ),
    ),
    (
        "string filter options keys",
        mbql({"source-table": 2, "filter": ["contains", f(1), "x", {"case_sensitive": False}]}),
        mbql({"source-table": 2, "filter": ["contains", f(1), "x", {"case-sensitive": False}]}),
    ),
    (
        "multi-argument string filter keeps its options first",
        mbql({"source-table": 2, "filter": ["starts_with", {"case_sensitive": False}, 7, "a", "B"]}),
        mbql({"source-table": 2, "filter": ["starts-with", {"case-sensitive": False}, 7, "a", "B"]}),
    ),
    (
        "time-interval: implicit field, amount and unit tokens, options",
        mbql(
            {"source-table": 2, "filter": ["time_interval", 14, "Last", "Month", {"include_current": True}]}
        ),
        mbql(
            {
                "source-table": 2,
                "filter": ["time-interval", f(14), "last", "month", {"include-current": True}],
            }
        ),
    ),
    (
        "time-interval drops the field's own temporal unit",
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "or",
                    ["time-interval", f(14, {"temporal-unit": "day", "join-alias": "J"}), -30, "day"],
                    ["time-interval", f(15, {"temporal-unit": "day"}), "current", "week"],
                ],
            }
        ),
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "or",
                    ["time-interval", f(14, {"join-alias": "J"}), -30, "day"],
                    ["time-interval", f(15), "current", "week"],
                ],
            }
        ),
    ),
    (
        "relative-datetime, interval and date arithmetic units",
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "between",
                    1,
                    ["relative_datetime", -1, "Month"],
                    ["relative-datetime", "CURRENT"],
                ],
                "expressions": {
                    "Later": ["datetime_add", f(1), 2, "Day"],
                    "Shifted": ["+", f(1), ["interval", 3, "HOUR"]],
                    "Age": ["datetime-diff", f(1), ["now"], "Year"],
                },
            }
        ),
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "between",
                    f(1),
                    ["relative-datetime", -1, "month"],
                    ["relative-datetime", "current"],
                ],
                "expressions": {
                    "Later": ["datetime-add", f(1), 2, "day"],
                    "Shifted": ["+", f(1), ["interval", 3, "hour"]],
                    "Age": ["datetime-diff", f(1), ["now"], "year"],
                },
            }
        ),
    ),
    (
        "relative-time-interval, during, temporal-extract and get-week units",
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "and",
                    ["relative_time_interval", f(1), -3, "MONTH", -1, "Year"],
                    ["during", f(1), "2024-03", "Month"],
                ],
                "expressions": {"Y": ["temporal_extract", f(1), "Year"], "W": ["get-week", f(1), "ISO"]},
            }
        ),
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "and",
                    ["relative-time-interval", f(1), -3, "month", -1, "year"],
                    ["during", f(1), "2024-03", "month"],
                ],
                "expressions": {"Y": ["temporal-extract", f(1), "year"], "W": ["get-week", f(1), "iso"]},
            }
        ),
    ),
    (
        "value clause: literal untouched, type info snake_case",
        mbql(
            {
                "source-table": 2,
                "filter": ["=", f(1), ["value", "Gizmo", {"base-type": "type/Text", "semantic-type": None}]],
                "expressions": {"L": ["value", ["A_B"]]},
            }
        ),
        mbql(
            {
                "source-table": 2,
                "filter": ["=", f(1), ["value", "Gizmo", {"base_type": "type/Text"}]],
                "expressions": {"L": ["value", ["A_B"], None]},
            }
        ),
    ),
    (
        "case: pairs and default normalized, string results untouched",
        mbql(
            {
                "source-table": 2,
                "expressions": {
                    "Size": [
                        "CASE",
                        [[["<", 1, 10], "Small"], [[">", f(1), 100], "Big"]],
                        {"DEFAULT": "Medium"},
                    ]
                },
            }
        ),
        mbql(
            {
                "source-table": 2,
                "expressions": {
                    "Size": [
                        "case",
                        [[["<", f(1), 10], "Small"], [[">", f(1), 100], "Big"]],
                        {"default": "Medium"},
                    ]
                },
            }
        ),
    ),
    (
        "substring position 0 is read as 1",
        mbql(
            {"source-table": 2, "expressions": {"S": ["substring", f(1), 0, 3], "T": ["substring", f(1), 2]}}
        ),
        mbql(
            {"source-table": 2, "expressions": {"S": ["substring", f(1), 1, 3], "T": ["substring", f(1), 2]}}
        ),
    ),
    (
        "bare integers are field ids only in field positions",
        mbql({"source-table": 2, "filter": ["=", 5, 1], "expressions": {"X": ["+", 5, 1]}}),
        mbql({"source-table": 2, "filter": ["=", f(5), 1], "expressions": {"X": ["+", 5, 1]}}),
    ),
    (
        "inside: both coordinates are field positions",
        mbql({"source-table": 2, "filter": ["INSIDE", 1, 2, 10, 20, 0, 5]}),
        mbql({"source-table": 2, "filter": ["inside", f(1), f(2), 10, 20, 0, 5]}),
    ),
    (
        "segment and metric ids are kept",
        mbql({"source-table": 2, "filter": ["SEGMENT", 3], "aggregation": [["Metric", 7]]}),
        mbql({"source-table": 2, "filter": ["segment", 3], "aggregation": [["metric", 7]]}),
    ),
    # --- legacy refs ----------------------------------------------------------------------------------------
    (
        "bare integer breakout and fields",
        mbql({"source-table": 2, "breakout": [14], "fields": [1, 2]}),
        mbql({"source-table": 2, "breakout": [f(14)], "fields": [f(1), f(2)]}),
    ),
    (
        "field-id",
        mbql({"source-table": 2, "breakout": [["field-id", 14]], "fields": [["FIELD_ID", 1]]}),
        mbql({"source-table": 2, "breakout": [f(14)], "fields": [f(1)]}),
    ),
    (
        "field-id around another legacy ref, and nested field refs",
        mbql(
            {
                "source-query": {"source-table": 2},
                "breakout": [
                    ["field-id", ["field-literal", "my_field", "type/Number"]],
                    ["field-id", ["field-id", 1]],
                    ["field", ["field", 3, {"a": 100, "b": 200}], {"b": 300}],
                ],
            }
        ),
        mbql(
            {
                "source-query": {"source-table": 2},
                "breakout": [f("my_field", {"base-type": "type/Number"}), f(1), f(3, {"a": 100, "b": 300})],
            }
        ),
    ),
    (
        "field-literal",
        mbql({"source-query": {"source-table": 2}, "breakout": [["field-literal", "NAME", "type/Text"]]}),
        mbql({"source-query": {"source-table": 2}, "breakout": [f("NAME", {"base-type": "type/Text"})]}),
    ),
    (
        "fk-> with field-id clauses and with bare ids",
        mbql(
            {"source-table": 2, "breakout": [["fk->", ["field-id", 15], ["field-id", 30]], ["fk->", 16, 31]]}
        ),
        mbql({"source-table": 2, "breakout": [f(30, {"source-field": 15}), f(31, {"source-field": 16})]}),
    ),
    (
        "datetime-field",
        mbql({"source-table": 2, "breakout": [["datetime-field", ["field-id", 14], "month"]]}),
        mbql({"source-table": 2, "breakout": [f(14, {"temporal-unit": "month"})]}),
    ),
    (
        "datetime-field with 'as'",
        mbql({"source-table": 2, "breakout": [["datetime_field", 14, "AS", "Day_Of_Week"]]}),
        mbql({"source-table": 2, "breakout": [f(14, {"temporal-unit": "day-of-week"})]}),
    ),
    (
        "datetime-field around fk-> merges both options",
        mbql(
            {
                "source-table": 2,
                "breakout": [["datetime-field", ["fk->", ["field-id", 15], 30], "as", "year"]],
            }
        ),
        mbql({"source-table": 2, "breakout": [f(30, {"source-field": 15, "temporal-unit": "year"})]}),
    ),
    (
        "binning-strategy num-bins",
        mbql({"source-table": 2, "breakout": [["binning-strategy", ["field-id", 7], "num-bins", 10]]}),
        mbql({"source-table": 2, "breakout": [f(7, {"binning": {"strategy": "num-bins", "num-bins": 10}})]}),
    ),
    (
        "binning-strategy bin-width",
        mbql({"source-table": 2, "breakout": [["binning_strategy", 7, "bin_width", 5.0]]}),
        mbql(
            {"source-table": 2, "breakout": [f(7, {"binning": {"strategy": "bin-width", "bin-width": 5.0}})]}
        ),
    ),
    (
        "binning-strategy default",
        mbql({"source-table": 2, "breakout": [["binning-strategy", ["field-id", 7], "default"]]}),
        mbql({"source-table": 2, "breakout": [f(7, {"binning": {"strategy": "default"}})]}),
    ),
    (
        "joined-field, also inside datetime-field",
        mbql(
            {
                "source-table": 2,
                "breakout": [
                    ["joined-field", "My_Join", ["field-id", 3]],
                    ["datetime-field", ["joined-field", "P", 4], "month"],
                ],
            }
        ),
        mbql(
            {
                "source-table": 2,
                "breakout": [
                    f(3, {"join-alias": "My_Join"}),
                    f(4, {"join-alias": "P", "temporal-unit": "month"}),
                ],
            }
        ),
    ),
    (
        "named becomes aggregation-options with a display name",
        mbql({"source-table": 2, "aggregation": [["named", ["COUNT"], "Row Count"], ["named", "sum", "S"]]}),
        mbql(
            {
                "source-table": 2,
                "aggregation": [
                    ["aggregation-options", ["count"], {"display-name": "Row Count"}],
                    ["aggregation-options", ["sum"], {"display-name": "S"}],
                ],
            }
        ),
    ),
    (
        "named with use-as-display-name? false sets the column name",
        mbql(
            {
                "source-table": 2,
                "aggregation": [["named", ["sum", 3], "total", {"use-as-display-name?": False}]],
            }
        ),
        mbql({"source-table": 2, "aggregation": [["aggregation-options", ["sum", f(3)], {"name": "total"}]]}),
    ),
    (
        "aggregation-options keeps user names verbatim",
        mbql({"source-table": 2, "aggregation": [["aggregation_options", ["avg", 3], {"NAME": "My_Avg"}]]}),
        mbql(
            {"source-table": 2, "aggregation": [["aggregation-options", ["avg", f(3)], {"name": "My_Avg"}]]}
        ),
    ),
    (
        "two-element and empty-options field refs",
        mbql(
            {
                "source-table": 2,
                "breakout": [["field", 14], ["field", 15, {}], ["field", 16, {"join-alias": None}]],
            }
        ),
        mbql({"source-table": 2, "breakout": [f(14), f(15), f(16)]}),
    ),
    (
        "field options: keys kebab, units lower-case, lib keys dropped, names kept",
        mbql(
            {
                "source-query": {"source-table": 2},
                "breakout": [
                    [
                        "field",
                        "Created_At",
                        {
                            "base_type": "type/DateTime",
                            "temporal_unit": "Month",
                            "lib/uuid": "x",
                            "join_alias": "J",
                        },
                    ],
                    ["field", 5, {"source_field": 3, "binning": {"strategy": "num_bins", "num_bins": 10}}],
                ],
            }
        ),
        mbql(
            {
                "source-query": {"source-table": 2},
                "breakout": [
                    f(
                        "Created_At",
                        {"base-type": "type/DateTime", "temporal-unit": "month", "join-alias": "J"},
                    ),
                    f(5, {"source-field": 3, "binning": {"strategy": "num-bins", "num-bins": 10}}),
                ],
            }
        ),
    ),
    (
        "expression and aggregation refs",
        mbql(
            {
                "source-table": 2,
                "expressions": {"My Expr": ["+", 1, 2]},
                "aggregation": [["count"]],
                "breakout": [
                    ["expression", "My Expr"],
                    ["expression", "My Expr", {"temporal_unit": "month"}],
                ],
                "order-by": [["desc", ["aggregation", 0, None]], ["asc", ["EXPRESSION", "My Expr", {}]]],
            }
        ),
        mbql(
            {
                "source-table": 2,
                "expressions": {"My Expr": ["+", 1, 2]},
                "aggregation": [["count"]],
                "breakout": [
                    ["expression", "My Expr"],
                    ["expression", "My Expr", {"temporal-unit": "month"}],
                ],
                "order-by": [["desc", ["aggregation", 0]], ["asc", ["expression", "My Expr"]]],
            }
        ),
    ),
    # --- MBQL 4 structure -----------------------------------------------------------------------------------
    (
        "a single aggregation clause is wrapped",
        mbql({"source-table": 2, "aggregation": ["count"]}),
        mbql({"source-table": 2, "aggregation": [["count"]]}),
    ),
    (
        "an aggregation name alone is wrapped",
        mbql({"source-table": 2, "aggregation": "COUNT"}),
        mbql({"source-table": 2, "aggregation": [["count"]]}),
    ),
    (
        "sum with a bare field id",
        mbql({"source-table": 2, "aggregation": ["sum", 10]}),
        mbql({"source-table": 2, "aggregation": [["sum", f(10)]]}),
    ),
    (
        "MBQL 95 aggregations without their brackets",
        mbql({"source-table": 2, "aggregation": ["count", ["sum", 10], ["COUNT", 20], "count", "rows"]}),
        mbql({"source-table": 2, "aggregation": [["count"], ["sum", f(10)], ["count", f(20)], ["count"]]}),
    ),
    (
        "an unbracketed aggregation with an expression argument stays one aggregation",
        mbql({"source-table": 2, "aggregation": ["sum", ["+", ["field", 1, None], 2]]}),
        mbql({"source-table": 2, "aggregation": [["sum", ["+", f(1), 2]]]}),
    ),
    (
        "rows aggregation means none",
        mbql({"source-table": 2, "aggregation": [["rows"]]}),
        mbql({"source-table": 2}),
    ),
    (
        "single breakout and fields clauses are wrapped",
        mbql({"source-table": 2, "breakout": ["field", 4, None], "fields": ["field-id", 5]}),
        mbql({"source-table": 2, "breakout": [f(4)], "fields": [f(5)]}),
    ),
    (
        "order-by: legacy reversed entries, bare ids, duplicates",
        mbql(
            {
                "source-table": 2,
                "order_by": [
                    [["field-id", 1], "ascending"],
                    [2, "DESCENDING"],
                    ["ASC", 3],
                    ["descending", 4],
                    ["asc", ["field", 1, None]],
                ],
            }
        ),
        mbql(
            {
                "source-table": 2,
                "order-by": [["asc", f(1)], ["desc", f(2)], ["asc", f(3)], ["desc", f(4)]],
            }
        ),
    ),
    (
        "a single order-by entry is wrapped",
        mbql({"source-table": 2, "aggregation": [["count"]], "order-by": ["desc", ["aggregation", 0]]}),
        mbql({"source-table": 2, "aggregation": [["count"]], "order-by": [["desc", ["aggregation", 0]]]}),
    ),
    (
        "a one-argument and keeps its shape",
        mbql({"source-table": 2, "filter": ["AND", ["=", 1, 2]]}),
        mbql({"source-table": 2, "filter": ["and", ["=", f(1), 2]]}),
    ),
    (
        "expression names are kept, definitions normalized",
        mbql(
            {
                "source-table": 2,
                "expressions": {"Net Profit": ["-", ["field-id", 1], 2], "my_expr": ["CONCAT", "a_B"]},
            }
        ),
        mbql(
            {"source-table": 2, "expressions": {"Net Profit": ["-", f(1), 2], "my_expr": ["concat", "a_B"]}}
        ),
    ),
    (
        "nested source-query is normalized recursively",
        mbql(
            {
                "source_query": {"source_table": 2, "aggregation": "count", "breakout": [["field-id", 4]]},
                "filter": [">", ["field-literal", "count", "type/Integer"], 5],
            }
        ),
        mbql(
            {
                "source-query": {"source-table": 2, "aggregation": [["count"]], "breakout": [f(4)]},
                "filter": [">", f("count", {"base-type": "type/Integer"}), 5],
            }
        ),
    ),
    (
        "native source-query",
        mbql(
            {
                "source-query": {
                    "NATIVE": "SELECT * FROM t WHERE x = {{x}}",
                    "template_tags": {"x": {"type": "Number", "display_name": "X"}},
                },
                "limit": 5,
            }
        ),
        mbql(
            {
                "source-query": {
                    "native": "SELECT * FROM t WHERE x = {{x}}",
                    "template-tags": {"x": {"type": "number", "display-name": "X", "name": "x"}},
                },
                "limit": 5,
            }
        ),
    ),
    (
        "native source-query given in top-level native shape is flattened",
        mbql({"source-query": {"native": {"query": "SELECT 1", "template_tags": {}}}}),
        mbql({"source-query": {"native": "SELECT 1", "template-tags": {}}}),
    ),
    (
        "joins: keys, strategy, fields, condition; alias kept",
        mbql(
            {
                "source-table": 2,
                "joins": [
                    {
                        "source_table": 1,
                        "alias": "My_Join",
                        "strategy": "INNER_JOIN",
                        "fields": "ALL",
                        "condition": ["=", ["field-id", 9], ["joined-field", "My_Join", ["field-id", 3]]],
                    },
                    {
                        "source_query": {"source_table": 3, "aggregation": "count", "breakout": [5]},
                        "alias": "Q",
                        "fields": ["joined-field", "Q", ["field-literal", "count", "type/Integer"]],
                        "condition": ["=", 8, ["field", 5, {"join_alias": "Q"}]],
                    },
                ],
            }
        ),
        mbql(
            {
                "source-table": 2,
                "joins": [
                    {
                        "source-table": 1,
                        "alias": "My_Join",
                        "strategy": "inner-join",
                        "fields": "all",
                        "condition": ["=", f(9), f(3, {"join-alias": "My_Join"})],
                    },
                    {
                        "source-query": {"source-table": 3, "aggregation": [["count"]], "breakout": [f(5)]},
                        "alias": "Q",
                        "fields": [f("count", {"base-type": "type/Integer", "join-alias": "Q"})],
                        "condition": ["=", f(8), f(5, {"join-alias": "Q"})],
                    },
                ],
            }
        ),
    ),
    (
        "source-metadata columns keep snake_case keys and normalize field_ref",
        mbql(
            {
                "source-query": {"source-table": 2, "aggregation": [["count"]]},
                "source_metadata": [
                    {
                        "name": "count",
                        "display-name": "Count",
                        "base_type": "type/Integer",
                        "field_ref": ["aggregation", 0, None],
                        "lib/source": "source/aggregations",
                    }
                ],
            }
        ),
        mbql(
            {
                "source-query": {"source-table": 2, "aggregation": [["count"]]},
                "source-metadata": [
                    {
                        "name": "count",
                        "display_name": "Count",
                        "base_type": "type/Integer",
                        "field_ref": ["aggregation", 0],
                    }
                ],
            }
        ),
    ),
    # --- native queries and parameters ----------------------------------------------------------------------
    (
        "native query: template tag keys, tag names and query text kept",
        {
            "type": "NATIVE",
            "database": 1,
            "native": {
                "QUERY": "SELECT * FROM PRODUCTS WHERE {{category}} AND {{#12-my_card}} {{snippet: Foo_Bar}}",
                "template_tags": {
                    "category": {
                        "id": "2b1a",
                        "name": "wrong",
                        "display_name": "Category",
                        "type": "dimension",
                        "dimension": ["field-id", 4],
                        "widget_type": "string/=",
                        "required": False,
                        "default": ["Gizmo"],
                    },
                    "#12-my_card": {"id": "c", "type": "card", "card_id": 12, "display_name": "#12"},
                    "snippet: Foo_Bar": {
                        "id": "s",
                        "type": "SNIPPET",
                        "snippet_name": "Foo_Bar",
                        "snippet_id": 3,
                        "display-name": "Snippet",
                    },
                },
            },
        },
        native(
            {
                "query": "SELECT * FROM PRODUCTS WHERE {{category}} AND {{#12-my_card}} {{snippet: Foo_Bar}}",
                "template-tags": {
                    "category": TAG_CATEGORY,
                    "#12-my_card": {
                        "id": "c",
                        "type": "card",
                        "card-id": 12,
                        "display-name": "#12",
                        "name": "#12-my_card",
                    },
                    "snippet: Foo_Bar": {
                        "id": "s",
                        "type": "snippet",
                        "snippet-name": "Foo_Bar",
                        "snippet-id": 3,
                        "display-name": "Snippet",
                        "name": "snippet: Foo_Bar",
                    },
                },
            }
        ),
    ),
    (
        "field filter without widget-type gets category; options keys normalized",
        native(
            {
                "query": "SELECT 1 WHERE {{c}}",
                "template-tags": {
                    "c": {
                        "type": "dimension",
                        "dimension": ["fk->", 1, 2],
                        "options": {"case_sensitive": False},
                        "alias": "p.CATEGORY",
                    }
                },
            }
        ),
        native(
            {
                "query": "SELECT 1 WHERE {{c}}",
                "template-tags": {
                    "c": {
                        "type": "dimension",
                        "dimension": f(2, {"source-field": 1}),
                        "options": {"case-sensitive": False},
                        "alias": "p.CATEGORY",
                        "name": "c",
                        "widget-type": "category",
                    }
                },
            }
        ),
    ),
    (
        "parameters: targets normalized, other keys and values kept",
        native(
            {"query": "SELECT 1", "template-tags": {}},
            parameters=[
                {
                    ":type": "string/=",
                    "target": ["DIMENSION", ["template_tag", "category"]],
                    "value": ["Gizmo_A"],
                    "values_source_config": {"values": ["a"]},
                    "sectionId": "string",
                },
                {"type": "number/=", "target": ["variable", ["template-tag", "min_price"]], "value": 30},
                {"type": "category", "target": ["dimension", ["template-tag", {"ID": "abc"}]], "value": "x"},
                {"type": "id", "target": ["dimension", ["field-id", 3], {"stage_number": 0}], "value": [1]},
                {"type": "category", "target": ["dimension", ["fk->", ["field-id", 15], ["field-id", 30]]]},
            ],
        ),
        native(
            {"query": "SELECT 1", "template-tags": {}},
            parameters=[
                {
                    "type": "string/=",
                    "target": ["dimension", ["template-tag", "category"]],
                    "value": ["Gizmo_A"],
                    "values_source_config": {"values": ["a"]},
                    "sectionId": "string",
                },
                {"type": "number/=", "target": ["variable", ["template-tag", "min_price"]], "value": 30},
                {"type": "category", "target": ["dimension", ["template-tag", {"id": "abc"}]], "value": "x"},
                {"type": "id", "target": ["dimension", f(3), {"stage-number": 0}], "value": [1]},
                {"type": "category", "target": ["dimension", f(30, {"source-field": 15})]},
            ],
        ),
    ),
    (
        "MBQL 5-style field refs in parameter targets",
        mbql(
            {"source-table": 2},
            parameters=[
                {"type": "id", "target": ["dimension", ["field", {"lib/uuid": "u"}, 3], {"stage-number": 0}]}
            ],
        ),
        mbql(
            {"source-table": 2},
            parameters=[{"type": "id", "target": ["dimension", f(3), {"stage-number": 0}]}],
        ),
    ),
    # --- MBQL 5 ---------------------------------------------------------------------------------------------
    (
        "MBQL 5 single stage",
        mbql5(
            stage(
                source_table=2,
                aggregation=[["count", {"lib/uuid": "a1"}]],
                breakout=[
                    f5(14, temporal_unit="month", base_type="type/DateTime", effective_type="type/DateTime")
                ],
                order_by=[["asc", {"lib/uuid": "o1"}, f5(14, "u2", temporal_unit="month")]],
                limit=100,
            )
        ),
        mbql(
            {
                "source-table": 2,
                "aggregation": [["count"]],
                "breakout": [f(14, {"temporal-unit": "month", "base-type": "type/DateTime"})],
                "order-by": [["asc", f(14, {"temporal-unit": "month"})]],
                "limit": 100,
            }
        ),
    ),
    (
        "MBQL 5 two stages with source-card become a nested source-query",
        mbql5(
            stage(
                source_card=7,
                aggregation=[["sum", {"lib/uuid": "a1"}, f5(13)]],
                breakout=[f5(4, source_field=11)],
            ),
            stage(
                filters=[[">", {"lib/uuid": "f1"}, f5("sum", base_type="type/Float"), 100]],
                order_by=[["desc", {"lib/uuid": "o1"}, f5("sum", base_type="type/Float")]],
            ),
        ),
        mbql(
            {
                "source-query": {
                    "source-table": "card__7",
                    "aggregation": [["sum", f(13)]],
                    "breakout": [f(4, {"source-field": 11})],
                },
                "filter": [">", f("sum", {"base-type": "type/Float"}), 100],
                "order-by": [["desc", f("sum", {"base-type": "type/Float"})]],
            }
        ),
    ),
    (
        "MBQL 5 three stages nest with the last stage outermost",
        mbql5(stage(source_table=2), stage(limit=10), stage(limit=5)),
        mbql({"source-query": {"source-query": {"source-table": 2}, "limit": 10}, "limit": 5}),
    ),
    (
        "MBQL 5 several filters become and",
        mbql5(
            stage(
                source_table=2,
                filters=[
                    ["=", {"lib/uuid": "f1"}, f5(1), "Gizmo", "Widget"],
                    ["is-null", {"lib/uuid": "f2"}, f5(2)],
                ],
            )
        ),
        mbql({"source-table": 2, "filter": ["and", ["=", f(1), "Gizmo", "Widget"], ["is-null", f(2)]]}),
    ),
    (
        "MBQL 5 named aggregations and aggregation refs by uuid",
        mbql5(
            stage(
                source_table=2,
                aggregation=[
                    ["count", {"lib/uuid": "agg-a", "name": "n", "display-name": "Rows"}],
                    ["avg", {"lib/uuid": "agg-b"}, f5(13)],
                ],
                order_by=[
                    ["desc", {"lib/uuid": "o1"}, ["aggregation", {"lib/uuid": "r1"}, "agg-b"]],
                    ["asc", {"lib/uuid": "o2"}, ["aggregation", {"lib/uuid": "r2"}, "agg-a"]],
                ],
            )
        ),
        mbql(
            {
                "source-table": 2,
                "aggregation": [
                    ["aggregation-options", ["count"], {"name": "n", "display-name": "Rows"}],
                    ["avg", f(13)],
                ],
                "order-by": [["desc", ["aggregation", 1]], ["asc", ["aggregation", 0]]],
            }
        ),
    ),
    (
        "MBQL 5 expressions list becomes a map",
        mbql5(
            stage(
                source_table=2,
                expressions=[
                    ["-", {"lib/uuid": "e1", "lib/expression-name": "Net"}, f5(13), f5(10, "u2")],
                    [
                        "field",
                        {"lib/uuid": "e2", "lib/expression-name": "Month", "temporal-unit": "month"},
                        14,
                    ],
                ],
                aggregation=[["sum", {"lib/uuid": "a1"}, ["expression", {"lib/uuid": "x1"}, "Net"]]],
                breakout=[["expression", {"lib/uuid": "x2"}, "Month"]],
            )
        ),
        mbql(
            {
                "source-table": 2,
                "expressions": {"Net": ["-", f(13), f(10)], "Month": f(14, {"temporal-unit": "month"})},
                "aggregation": [["sum", ["expression", "Net"]]],
                "breakout": [["expression", "Month"]],
            }
        ),
    ),
    (
        "MBQL 5 joins: stages and conditions",
        mbql5(
            stage(
                source_table=2,
                joins=[
                    {
                        "lib/type": "mbql/join",
                        "alias": "Products",
                        "strategy": "left-join",
                        "fields": "all",
                        "stages": [stage(source_table=1)],
                        "conditions": [
                            ["=", {"lib/uuid": "c1"}, f5(9), f5(3, "u2", join_alias="Products")],
                            ["=", {"lib/uuid": "c2"}, f5(8), f5(4, "u3", join_alias="Products")],
                        ],
                    },
                    {
                        "lib/type": "mbql/join",
                        "alias": "Q",
                        "fields": [f5("count", base_type="type/Integer", join_alias="Q")],
                        "stages": [stage(source_card=5), stage(aggregation=[["count", {"lib/uuid": "a"}]])],
                        "conditions": [
                            [
                                "=",
                                {"lib/uuid": "c3"},
                                f5(9),
                                f5("ID", base_type="type/Integer", join_alias="Q"),
                            ]
                        ],
                    },
                ],
            )
        ),
        mbql(
            {
                "source-table": 2,
                "joins": [
                    {
                        "alias": "Products",
                        "strategy": "left-join",
                        "fields": "all",
                        "condition": [
                            "and",
                            ["=", f(9), f(3, {"join-alias": "Products"})],
                            ["=", f(8), f(4, {"join-alias": "Products"})],
                        ],
                        "source-table": 1,
                    },
                    {
                        "alias": "Q",
                        "fields": [f("count", {"base-type": "type/Integer", "join-alias": "Q"})],
                        "condition": ["=", f(9), f("ID", {"base-type": "type/Integer", "join-alias": "Q"})],
                        "source-query": {
                            "source-query": {"source-table": "card__5"},
                            "aggregation": [["count"]],
                        },
                    },
                ],
            }
        ),
    ),
    (
        "MBQL 5 clause options move to their legacy positions",
        mbql5(
            stage(
                source_table=2,
                filters=[
                    ["contains", {"lib/uuid": "1", "case-sensitive": False}, f5(1), "abc"],
                    ["starts-with", {"lib/uuid": "2", "case-sensitive": False}, f5(1), "a", "b"],
                    ["time-interval", {"lib/uuid": "3", "include-current": True}, f5(2), -30, "day"],
                    [
                        "=",
                        {"lib/uuid": "4"},
                        f5(3),
                        ["value", {"lib/uuid": "5", "base-type": "type/Text"}, "x"],
                    ],
                ],
                expressions=[
                    [
                        "case",
                        {"lib/uuid": "6", "lib/expression-name": "Size"},
                        [[["<", {"lib/uuid": "7"}, f5(4), 10], "small"]],
                        "big",
                    ],
                    [
                        "case",
                        {"lib/uuid": "8", "lib/expression-name": "NoDefault"},
                        [[["<", {}, f5(4), 10], 1]],
                    ],
                ],
                aggregation=[
                    ["offset", {"lib/uuid": "9", "name": "prev"}, ["sum", {"lib/uuid": "10"}, f5(5)], -1]
                ],
            )
        ),
        mbql(
            {
                "source-table": 2,
                "filter": [
                    "and",
                    ["contains", f(1), "abc", {"case-sensitive": False}],
                    ["starts-with", {"case-sensitive": False}, f(1), "a", "b"],
                    ["time-interval", f(2), -30, "day", {"include-current": True}],
                    ["=", f(3), ["value", "x", {"base_type": "type/Text"}]],
                ],
                "expressions": {
                    "Size": ["case", [[["<", f(4), 10], "small"]], {"default": "big"}],
                    "NoDefault": ["case", [[["<", f(4), 10], 1]]],
                },
                "aggregation": [["offset", {"name": "prev"}, ["sum", f(5)], -1]],
            }
        ),
    ),
    (
        "MBQL 5 native stage alone becomes a native query",
        mbql5(
            {
                "lib/type": "mbql.stage/native",
                "native": "SELECT * FROM PRODUCTS WHERE {{category}}",
                "template-tags": {
                    "category": {
                        "id": "2b1a",
                        "name": "category",
                        "display-name": "Category",
                        "type": "dimension",
                        "dimension": ["field", {"lib/uuid": "d"}, 4],
                        "widget-type": "string/=",
                        "required": False,
                        "default": ["Gizmo"],
                    }
                },
            },
            parameters=[
                {"type": "string/=", "target": ["dimension", ["template-tag", "category"]], "value": ["A"]}
            ],
        ),
        native(
            {
                "query": "SELECT * FROM PRODUCTS WHERE {{category}}",
                "template-tags": {"category": TAG_CATEGORY},
            },
            parameters=[
                {"type": "string/=", "target": ["dimension", ["template-tag", "category"]], "value": ["A"]}
            ],
        ),
    ),
    (
        "MBQL 5 native first stage becomes a native source-query",
        mbql5(
            {"lib/type": "mbql.stage/native", "native": "SELECT 1 AS x", "template-tags": {}},
            stage(aggregation=[["count", {"lib/uuid": "a"}]]),
        ),
        mbql({"source-query": {"native": "SELECT 1 AS x", "template-tags": {}}, "aggregation": [["count"]]}),
    ),
    (
        "MBQL 5 stage types may be omitted; lib keys and constraints handled",
        {
            "lib/type": "mbql/query",
            "lib/metadata": {"x": 1},
            "database": 3,
            "stages": [{"source-table": 2, "lib/stage-metadata": {"columns": []}}],
            "constraints": {"max_results": 5},
            "info": {"card-id": 1},
        },
        {
            "database": 3,
            "type": "query",
            "query": {"source-table": 2},
            "constraints": {"max-results": 5},
            "info": {"card-id": 1},
        },
    ),
    (
        "MBQL 5 without lib/type but with stages; native stage inferred",
        {"database": 1, "stages": [{"native": "SELECT 2"}]},
        native({"query": "SELECT 2"}),
    ),
    (
        "MBQL 5 original temporal unit keeps its legacy name; ident dropped",
        mbql5(
            stage(
                source_table=2,
                breakout=[
                    f5(
                        14,
                        temporal_unit="month",
                        ident="abc",
                        **{"metabase.lib.field/original-temporal-unit": "day"},
                    )
                ],
            )
        ),
        mbql(
            {
                "source-table": 2,
                "breakout": [f(14, {"temporal-unit": "month", "original-temporal-unit": "day"})],
            }
        ),
    ),
]


@pytest.mark.parametrize(("given", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_normalize(given: Any, expected: dict[str, Any]) -> None:
    assert normalize(given) == expected


@pytest.mark.parametrize("given", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_normalize_is_idempotent(given: Any) -> None:
    once = normalize(given)
    assert normalize(once) == once


def _containers(x: Any) -> list[Any]:
    """Every list and dict inside `x` (by identity)."""
    found = []
    stack = [x]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            stack.extend(item)
    return found


@pytest.mark.parametrize("given", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_input_is_not_mutated_nor_shared(given: Any) -> None:
    before = copy.deepcopy(given)
    result = normalize(given)
    assert given == before
    shared = {id(c) for c in _containers(given)} & {id(c) for c in _containers(result)}
    assert shared == set()


ERRORS: list[tuple[str, Any, str]] = [
    ("not an object", [], "Invalid query: expected a JSON object, got []"),
    (
        "missing type",
        {"database": 1, "query": {}},
        'Invalid query: missing "type" (expected "query" or "native")',
    ),
    ("unknown type", {"type": "internal"}, 'Invalid query type "internal": expected "query" or "native"'),
    ("non-string type", {"type": 1}, 'Invalid query type 1: expected "query" or "native"'),
    (
        "type query without query",
        {"type": "query", "database": 1},
        'Invalid query: "query" must be a JSON object when "type" is "query"',
    ),
    (
        "native is a string",
        {"type": "native", "database": 1, "native": "SELECT 1"},
        'Invalid query: "native" must be a JSON object when "type" is "native"',
    ),
    ("non-string key", {1: 2}, "Invalid query: keys must be strings, got 1"),
    ("breakout not a list", mbql({"breakout": 5}), 'Invalid query: "breakout" must be a list'),
    (
        "expressions not a map",
        mbql({"expressions": [["+", 1, 2]]}),
        'Invalid query: "expressions" must be a JSON object',
    ),
    ("joins not a list", mbql({"joins": {"alias": "x"}}), 'Invalid query: "joins" must be a list'),
    ("join not an object", mbql({"joins": [5]}), "Invalid join: expected a JSON object, got 5"),
    ("page not an object", mbql({"page": 2}), 'Invalid query: "page" must be a JSON object'),
    (
        "source-query not an object",
        mbql({"source-query": 2}),
        'Invalid query: "source-query" must be a JSON object',
    ),
    ("bad order-by direction", mbql({"order-by": [["up", 1]]}), 'Invalid order-by clause: ["up", 1]'),
    (
        "order-by entry too long",
        mbql({"order-by": [["asc", 1, 2]]}),
        'Invalid order-by clause: ["asc", 1, 2]',
    ),
    (
        "field id not int or str",
        mbql({"breakout": [["field", 1.5, None]]}),
        'Invalid field reference: ["field", 1.5, null]',
    ),
    (
        "field options not an object",
        mbql({"breakout": [["field", 1, "month"]]}),
        'Invalid field reference: ["field", 1, "month"]',
    ),
    (
        "field with extra args",
        mbql({"breakout": [["field", 1, None, 2]]}),
        'Invalid field clause: ["field", 1, null, 2]',
    ),
    (
        "datetime-field arity",
        mbql({"breakout": [["datetime-field", 1]]}),
        'Invalid datetime-field clause: ["datetime-field", 1]',
    ),
    (
        "datetime-field around an aggregation ref",
        mbql({"breakout": [["datetime-field", ["aggregation", 0], "month"]]}),
        'Invalid field reference: ["aggregation", 0]',
    ),
    (
        "fk-> from an expression",
        mbql({"breakout": [["fk->", ["expression", "X"], 2]]}),
        'Invalid field reference: ["expression", "X"]',
    ),
    (
        "value info not an object",
        mbql({"filter": ["=", 1, ["value", 1, 2]]}),
        'Invalid value clause: ["value", 1, 2]',
    ),
    ("parameters not a list", mbql({}, parameters={"a": 1}), 'Invalid query: "parameters" must be a list'),
    (
        "parameter not an object",
        mbql({}, parameters=["x"]),
        'Invalid parameter: expected a JSON object, got "x"',
    ),
    (
        "template-tags not an object",
        native({"query": "x", "template-tags": []}),
        'Invalid native query: "template-tags" must be a JSON object',
    ),
    (
        "template tag not an object",
        native({"query": "x", "template-tags": {"x": 1}}),
        'Invalid template tag "x": expected a JSON object, got 1',
    ),
    (
        "MBQL 5 without stages",
        {"lib/type": "mbql/query", "database": 1},
        'Invalid MBQL 5 query: "stages" must be a non-empty list',
    ),
    ("MBQL 5 empty stages", mbql5(), 'Invalid MBQL 5 query: "stages" must be a non-empty list'),
    ("MBQL 5 stage not an object", mbql5(1), "Invalid MBQL 5 stage: expected a JSON object, got 1"),
    (
        "MBQL 5 native stage after an MBQL stage",
        mbql5(stage(source_table=1), {"lib/type": "mbql.stage/native", "native": "SELECT 1"}),
        "Invalid MBQL 5 query: only the first stage can be a native stage",
    ),
    (
        "MBQL 5 unknown stage type",
        mbql5({"lib/type": "mbql.stage/other"}),
        'Invalid MBQL 5 stage type: "mbql.stage/other"',
    ),
    (
        "MBQL 5 aggregation ref to an unknown uuid",
        mbql5(stage(source_table=1, order_by=[["asc", {}, ["aggregation", {}, "nope"]]])),
        'Invalid MBQL 5 query: no aggregation with lib/uuid "nope" in its stage',
    ),
    (
        "MBQL 5 aggregation ref to a previous stage",
        mbql5(
            stage(source_table=1, aggregation=[["count", {"lib/uuid": "a"}]]),
            stage(order_by=[["asc", {}, ["aggregation", {}, "a"]]]),
        ),
        'Invalid MBQL 5 query: no aggregation with lib/uuid "a" in its stage',
    ),
    (
        "MBQL 5 expression without a name",
        mbql5(stage(source_table=1, expressions=[["+", {"lib/uuid": "u"}, 1, 2]])),
        'Invalid MBQL 5 expression without "lib/expression-name": ["+", {"lib/uuid": "u"}, 1, 2]',
    ),
    (
        "MBQL 5 join without stages",
        mbql5(stage(source_table=1, joins=[{"alias": "J", "conditions": []}])),
        'Invalid MBQL 5 join: "stages" must be a non-empty list',
    ),
    (
        "MBQL 5 filters not a list",
        mbql5(stage(source_table=1, filters={})),
        'Invalid MBQL 5 query: "filters" must be a list',
    ),
    (
        "MBQL 5 field ref without id",
        mbql5(stage(source_table=1, breakout=[["field", {"lib/uuid": "u"}]])),
        'Invalid field reference: ["field", {"lib/uuid": "u"}]',
    ),
]


@pytest.mark.parametrize(("given", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_invalid_queries(given: Any, message: str) -> None:
    with pytest.raises(ValueError) as error:
        normalize(given)
    assert str(error.value) == message


def test_normalize_ref() -> None:
    assert normalize_ref(14) == f(14)
    assert normalize_ref(["field-literal", "count", "type/Integer"]) == f(
        "count", {"base-type": "type/Integer"}
    )
    assert normalize_ref(["aggregation", 0, None]) == ["aggregation", 0]
    assert normalize_ref(None) is None


def test_normalize_parameter() -> None:
    given = {
        ":id": "p1",
        "type": "date/all-options",
        "target": ["dimension", ["datetime-field", 14, "day"]],
        "value": "past30days",
    }
    assert normalize_parameter(given) == {
        "id": "p1",
        "type": "date/all-options",
        "target": ["dimension", f(14, {"temporal-unit": "day"})],
        "value": "past30days",
    }
