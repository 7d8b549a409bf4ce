"""Turn any query a Metabase client may send into the canonical, normalized legacy MBQL 4 form.

Clients send MBQL 4 in every historical spelling (snake_case, kebab-case or ":"-prefixed keys, upper-case
clause names, pre-0.39 field clauses such as ``field-id`` or ``fk->``) and, since 0.50, MBQL 5 (``lib/type`` +
``stages``). Every later query-processor step reads only the canonical form described in the QP design notes,
so all spelling and version differences are resolved here and nowhere else.

This module only rewrites shapes. Whether a clause is known, a field exists or an argument has the right type
is the validate step's business; ``ValueError`` is raised only for shapes that cannot be read at all.
Nothing here touches a database, and the input is never mutated: every container in the result is new.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

Clause = list[Any]
Handler = Callable[[Any], Any]

_QUERY_TYPES = ("query", "native")
_DIRECTIONS = {"asc": "asc", "ascending": "asc", "desc": "desc", "descending": "desc"}
_STRING_FILTERS = frozenset({"starts-with", "ends-with", "contains", "does-not-contain"})
_AGGREGATION_NAMES = frozenset(
    {
        *("count", "cum-count", "distinct", "distinct-where", "count-where", "sum", "cum-sum", "sum-where"),
        *("avg", "min", "max", "stddev", "var", "median", "percentile", "share", "rows"),
    }
)

# How many leading arguments of a clause are field positions, where MBQL 95 allowed a bare integer field id.
_REF_ARGS = {
    **dict.fromkeys(
        (
            *("=", "!=", "<", "<=", ">", ">=", "between", "in", "not-in"),
            *("is-null", "not-null", "is-empty", "not-empty", "time-interval", *_STRING_FILTERS),
            *("count", "cum-count", "avg", "cum-sum", "distinct", "stddev", "sum", "min", "max"),
            *("median", "var", "percentile"),
        ),
        1,
    ),
    "inside": 2,
}

# Argument indexes holding unit/mode keywords, which Metabase normalizes like clause names ("Day" -> "day").
# Other string arguments are user values ("Gizmo") and are never touched.
_TOKEN_ARGS: dict[str, tuple[int, ...]] = {
    "time-interval": (1, 2),
    "relative-time-interval": (2, 4),
    "relative-datetime": (0, 1),
    "interval": (1,),
    "datetime-add": (2,),
    "datetime-subtract": (2,),
    "datetime-diff": (2,),
    "temporal-extract": (1, 2),
    "get-week": (1,),
    "get-day-of-week": (1,),
    "during": (2,),
}

_UNIT_OPTIONS = ("temporal-unit", "inherited-temporal-unit", "original-temporal-unit")
# MBQL 5 keeps this option under a lib namespace; legacy MBQL has it unqualified.
_RENAMED_OPTIONS = {"metabase.lib.field/original-temporal-unit": "original-temporal-unit"}
# MBQL 5 options with no place in legacy MBQL (Metabase's lib.convert drops them too).
_MBQL5_ONLY_OPTIONS = frozenset({"effective-type", "ident"})

_NATIVE_STAGE = "mbql.stage/native"
_MBQL_STAGE = "mbql.stage/mbql"


def normalize(query: Mapping[str, Any]) -> dict[str, Any]:
    """Return the canonical MBQL 4 form of `query` (MBQL 4 in any spelling, or MBQL 5).

    Raises ValueError with a user-facing message for shapes that cannot be understood; the caller reports it
    as Metabase's invalid-query error. Idempotent: normalizing a normalized query changes nothing.
    """
    if not isinstance(query, Mapping):
        raise ValueError(f"Invalid query: expected a JSON object, got {_show(query)}")
    top = _keys(query)
    if _is_mbql5(top):
        top = _mbql5_to_legacy(top)
    return _outer_query(top)


def normalize_ref(ref: Any) -> Any:
    """Normalize a field/expression/aggregation reference stored outside a query (a column's ``field_ref``, a
    dashboard mapping target); a bare integer is a field id, as in MBQL 95."""
    return _ref(ref)


def normalize_parameter(parameter: Any) -> dict[str, Any]:
    """Normalize one parameter of a query's (or card's, or dashboard's) ``parameters`` list.

    Only ``target`` is MBQL and gets normalized. The other keys keep their spelling because Metabase serves
    them as sent (``values_source_config``, ``sectionId``); only a leading ":" is dropped.
    """
    if not isinstance(parameter, Mapping):
        raise ValueError(f"Invalid parameter: expected a JSON object, got {_show(parameter)}")
    out: dict[str, Any] = {}
    for key, value in parameter.items():
        key = key.removeprefix(":") if isinstance(key, str) else key
        out[key] = _expr(value) if key == "target" else copy.deepcopy(value)
    return out


# --- tokens and small helpers -------------------------------------------------------------------------------


def _token(name: str) -> str:
    """Metabase's token normalization: "SOURCE_TABLE", ":source-table" and "source_table" are one key."""
    return name.removeprefix(":").lower().replace("_", "-")


def _snake(name: str) -> str:
    """Column-metadata keys and ``value`` type info use snake_case in legacy MBQL."""
    return name.removeprefix(":").lower().replace("-", "_")


def _keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict with normalized keys and the same values (later duplicates win, as in Metabase)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise ValueError(f"Invalid query: keys must be strings, got {_show(key)}")
        out[_token(key)] = value
    return out


def _is_lib_key(key: str) -> bool:
    """MBQL 5 bookkeeping keys (``lib/uuid``, ``lib/type``, ``metabase.lib.*/...``) that legacy MBQL drops."""
    namespace, slash, _ = key.partition("/")
    return bool(slash) and (namespace == "lib" or namespace.startswith(("lib.", "metabase.lib.")))


def _is_clause(x: Any) -> bool:
    return isinstance(x, list | tuple) and len(x) > 0 and isinstance(x[0], str)


def _is_id(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_empty(x: Any) -> bool:
    return x is None or (isinstance(x, list | dict) and not x)


def _show(x: Any) -> str:
    """Render a fragment for an error message the way the client sent it (JSON)."""
    try:
        return json.dumps(x)
    except (TypeError, ValueError):
        return repr(x)


def _plain_map(value: Any, key: str) -> dict[str, Any]:
    """Maps such as ``page``, ``constraints`` and ``middleware``: keys normalized, values kept."""
    if not isinstance(value, Mapping):
        raise ValueError(f'Invalid query: "{key}" must be a JSON object')
    return {k: copy.deepcopy(v) for k, v in _keys(value).items()}


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError(f'Invalid query: "{key}" must be a list')
    return list(value)


# --- the outer query ----------------------------------------------------------------------------------------


def _query_type(value: Any) -> str:
    if value is None:
        raise ValueError('Invalid query: missing "type" (expected "query" or "native")')
    query_type = _token(value) if isinstance(value, str) else None
    if query_type not in _QUERY_TYPES:
        raise ValueError(f'Invalid query type {_show(value)}: expected "query" or "native"')
    return query_type


def _outer_query(top: dict[str, Any]) -> dict[str, Any]:
    query_type = _query_type(top.get("type"))
    if not isinstance(top.get(query_type), Mapping):
        raise ValueError(f'Invalid query: "{query_type}" must be a JSON object when "type" is "{query_type}"')
    out: dict[str, Any] = {}
    for key, value in top.items():
        if _is_lib_key(key) or (value is None and key != "database"):
            continue
        if key == "type":
            out[key] = query_type
        elif key == query_type:
            out[key] = _inner_query(value) if query_type == "query" else _native_query(value)
        elif key == "parameters":
            out[key] = [normalize_parameter(p) for p in _list(value, key)]
        elif key in ("constraints", "middleware"):
            out[key] = _plain_map(value, key)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- inner MBQL queries and joins ---------------------------------------------------------------------------


def _inner_query(query: Any) -> dict[str, Any]:
    if not isinstance(query, Mapping):
        raise ValueError(f"Invalid query: expected an MBQL query object, got {_show(query)}")
    return _normalize_map(query, _INNER_KEYS)


def _join(join: Any) -> dict[str, Any]:
    if not isinstance(join, Mapping):
        raise ValueError(f"Invalid join: expected a JSON object, got {_show(join)}")
    return _normalize_map(join, _JOIN_KEYS)


def _normalize_map(mapping: Mapping[str, Any], handlers: Mapping[str, Handler]) -> dict[str, Any]:
    """Normalize keys, normalize known clauses, and drop empty ones (``"breakout": []``) as Metabase does."""
    out: dict[str, Any] = {}
    for key, value in _keys(mapping).items():
        if value is None or _is_lib_key(key):
            continue
        handler = handlers.get(key)
        normalized = handler(value) if handler else copy.deepcopy(value)
        if not _is_empty(normalized):
            out[key] = normalized
    return out


def _source_query(value: Any) -> dict[str, Any]:
    """An MBQL source query, or a native one: ``{"native": "SELECT …", "template-tags": {…}}``.

    The native text may also arrive wrapped like a top-level native query (``{"native": {"query": …}}``); it
    is unwrapped to the canonical flat shape.
    """
    if not isinstance(value, Mapping):
        raise ValueError('Invalid query: "source-query" must be a JSON object')
    source = _keys(value)
    if "native" not in source:
        return _inner_query(source)
    native = source.pop("native")
    if isinstance(native, Mapping):
        nested = _keys(native)
        native = nested.pop("query", None)
        source.update(nested)
    return _native_query({"native": native, **source})


def _source_metadata(value: Any) -> list[Any]:
    """Column metadata keeps Metabase's snake_case column keys (``lib/*`` ones are dropped); only its
    ``field_ref`` is MBQL."""
    columns = []
    for column in _list(value, "source-metadata"):
        if not isinstance(column, Mapping):
            raise ValueError(f"Invalid source metadata column: {_show(column)}")
        normalized = {}
        for key, v in column.items():
            key = _token(key) if "/" in key else _snake(key)
            if not _is_lib_key(key):
                normalized[key] = _expr(v) if key == "field_ref" else copy.deepcopy(v)
        columns.append(normalized)
    return columns


def _joins(value: Any) -> list[dict[str, Any]]:
    return [_join(join) for join in _list(value, "joins")]


def _expressions(value: Any) -> dict[str, Any]:
    """Expression names are user-chosen and kept verbatim; only the definitions are normalized."""
    if not isinstance(value, Mapping):
        raise ValueError('Invalid query: "expressions" must be a JSON object')
    return {name: _expr(definition) for name, definition in value.items()}


def _aggregations(value: Any) -> list[Clause]:
    """MBQL 95 allowed one aggregation instead of a list (``"count"``, ``["sum", 10]``), or several without
    their brackets (``["count", ["sum", 10]]``); ``rows`` meant none."""
    if isinstance(value, str) or (_is_clause(value) and not _is_unbracketed_aggregations(value)):
        value = [value]
    out = []
    for aggregation in _list(value, "aggregation"):
        clause = _expr([aggregation] if isinstance(aggregation, str) else aggregation)
        if not (_is_clause(clause) and clause[0] == "rows"):
            out.append(clause)
    return out


def _is_aggregation_name(x: Any) -> bool:
    return isinstance(x, str) and _token(x) in _AGGREGATION_NAMES


def _is_unbracketed_aggregations(value: list[Any] | tuple[Any, ...]) -> bool:
    """``["count", "count"]`` or ``["count", ["sum", 10]]``: every item is an aggregation name or clause."""
    return len(value) > 1 and all(
        _is_aggregation_name(item) or (_is_clause(item) and _is_aggregation_name(item[0])) for item in value
    )


def _ref_list(value: Any, key: str) -> list[Any]:
    """``breakout``/``fields``: a single clause is wrapped in a list; bare integers are field ids."""
    if _is_clause(value):
        value = [value]
    return [_ref(ref) for ref in _list(value, key)]


def _join_fields(value: Any) -> Any:
    return _token(value) if isinstance(value, str) else _ref_list(value, "fields")


def _order_by(value: Any) -> list[Clause]:
    """Entries become ``[direction, ref]``; duplicates are dropped, keeping the first (as Metabase does)."""
    if _is_clause(value):
        value = [value]
    out: list[Clause] = []
    for entry in _list(value, "order-by"):
        normalized = _order_by_entry(entry)
        if normalized not in out:
            out.append(normalized)
    return out


def _order_by_entry(entry: Any) -> Clause:
    """``["asc", ref]``, or MBQL 95's reversed ``[ref, "ascending"]``."""
    if isinstance(entry, list | tuple) and len(entry) == 2:
        first, second = entry
        if isinstance(first, str) and _token(first) in _DIRECTIONS:
            return [_DIRECTIONS[_token(first)], _ref(second)]
        if isinstance(second, str) and _token(second) in _DIRECTIONS:
            return [_DIRECTIONS[_token(second)], _ref(first)]
    raise ValueError(f"Invalid order-by clause: {_show(entry)}")


def _token_value(value: Any) -> Any:
    return _token(value) if isinstance(value, str) else copy.deepcopy(value)


# --- native queries -----------------------------------------------------------------------------------------


def _native_query(native: Any) -> dict[str, Any]:
    """Keys and template tags are normalized; the query text (or Mongo pipeline) is kept as sent."""
    if not isinstance(native, Mapping):
        raise ValueError(f"Invalid native query: expected a JSON object, got {_show(native)}")
    out: dict[str, Any] = {}
    for key, value in _keys(native).items():
        if not _is_lib_key(key):
            out[key] = _template_tags(value) if key == "template-tags" else copy.deepcopy(value)
    return out


def _template_tags(tags: Any) -> dict[str, Any]:
    if not isinstance(tags, Mapping):
        raise ValueError('Invalid native query: "template-tags" must be a JSON object')
    return {name: _template_tag(name, tag) for name, tag in tags.items()}


def _template_tag(name: str, tag: Any) -> dict[str, Any]:
    """Tag keys are normalized but the tag name (the map key) is kept; like Metabase, ``name`` is forced to it
    and a field filter without ``widget-type`` gets ``category`` (pre-v42 clients omitted it, #20643)."""
    if not isinstance(tag, Mapping):
        raise ValueError(f"Invalid template tag {_show(name)}: expected a JSON object, got {_show(tag)}")
    out: dict[str, Any] = {}
    for key, value in _keys(tag).items():
        if key == "dimension":
            out[key] = _ref(value)
        elif key == "type":
            out[key] = _token_value(value)
        elif key == "options" and isinstance(value, Mapping):
            out[key] = _options(value)
        else:
            out[key] = copy.deepcopy(value)
    out["name"] = name
    if out.get("type") == "dimension" and not out.get("widget-type"):
        out["widget-type"] = "category"
    return out


# --- clauses ------------------------------------------------------------------------------------------------


def _ref(x: Any) -> Any:
    """A value in a field position: MBQL 95 allowed a bare integer field id there."""
    return ["field", x, None] if _is_id(x) else _expr(x)


def _expr(x: Any) -> Any:
    """Normalize any MBQL value: clauses recursively, options maps by key; literals are returned as is."""
    if _is_clause(x):
        return _clause(x)
    if isinstance(x, list | tuple):
        return [_expr(item) for item in x]
    if isinstance(x, Mapping):
        return _options(x)
    return x


def _options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A clause's options map: keys normalized, ``lib/*`` keys and null values dropped."""
    out: dict[str, Any] = {}
    for key, value in _keys(options).items():
        key = _RENAMED_OPTIONS.get(key, key)
        if value is not None and not _is_lib_key(key):
            out[key] = _expr(value)
    return out


def _clause(x: list[Any] | tuple[Any, ...]) -> Clause:
    name = _token(x[0])
    args = list(x[1:])
    special = _SPECIAL_CLAUSES.get(name)
    return special(name, args) if special else _generic(name, args)


def _generic(name: str, args: list[Any]) -> Clause:
    ref_args = _REF_ARGS.get(name, 0)
    if name in _STRING_FILTERS and args and isinstance(args[0], Mapping):
        ref_args = 0  # multi-argument form: [tag, {options}, ref, "a", "b"]
    token_args = _TOKEN_ARGS.get(name, ())
    out: Clause = [name]
    for index, arg in enumerate(args):
        if index < ref_args:
            out.append(_ref(arg))
        elif index in token_args and isinstance(arg, str):
            out.append(_token(arg))
        else:
            out.append(_expr(arg))
    return out


def _arity(name: str, args: list[Any], *counts: int) -> None:
    if len(args) not in counts:
        raise ValueError(f"Invalid {name} clause: {_show([name, *args])}")


def _field(name: str, args: list[Any]) -> Clause:
    """``["field", id-or-name, opts-or-null]``; the options-first MBQL 5 order is accepted too (parameter
    targets and template-tag dimensions copied from MBQL 5 queries)."""
    _arity(name, args, 1, 2)
    id_or_name, options = (args[0], None) if len(args) == 1 else args
    if isinstance(id_or_name, Mapping) and (_is_id(options) or isinstance(options, str)):
        id_or_name, options = options, id_or_name
    if _is_clause(id_or_name) and _token(id_or_name[0]) == "field" and isinstance(options, Mapping | None):
        # accidentally nested refs: the outer options win (Metabase fixes these too)
        _, inner_id, inner_options = _field("field", list(id_or_name[1:]))
        return ["field", inner_id, {**(inner_options or {}), **_ref_options(options)} or None]
    if not (_is_id(id_or_name) or isinstance(id_or_name, str)) or not (
        options is None or isinstance(options, Mapping)
    ):
        raise ValueError(f"Invalid field reference: {_show([name, *args])}")
    return ["field", id_or_name, _ref_options(options) or None]


def _ref_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    out = _options(options or {})
    for key in _UNIT_OPTIONS:
        if isinstance(out.get(key), str):
            out[key] = _token(out[key])
    binning = out.get("binning")
    if isinstance(binning, dict) and isinstance(binning.get("strategy"), str):
        binning["strategy"] = _token(binning["strategy"])
    return out


def _with_option(ref: Any, key: str, value: Any) -> Clause:
    """Fold a legacy wrapper (``datetime-field``, ``joined-field``, …) into the options of its ref."""
    if not (_is_clause(ref) and ref[0] in ("field", "expression")):
        raise ValueError(f"Invalid field reference: {_show(ref)}")
    options = ref[2] if len(ref) > 2 and ref[2] else {}
    return [ref[0], ref[1], {**options, key: copy.deepcopy(value)}]


def _field_id(name: str, args: list[Any]) -> Clause:
    _arity(name, args, 1)
    return _expr(args[0]) if _is_clause(args[0]) else _field("field", [args[0], None])


def _field_literal(name: str, args: list[Any]) -> Clause:
    _arity(name, args, 2)
    return _field("field", [args[0], {"base-type": args[1]}])


def _fk(name: str, args: list[Any]) -> Clause:
    _arity(name, args, 2)
    source = _ref(args[0])
    if not (_is_clause(source) and source[0] == "field"):
        raise ValueError(f"Invalid field reference: {_show(args[0])}")
    return _with_option(_ref(args[1]), "source-field", source[1])


def _joined_field(name: str, args: list[Any]) -> Clause:
    _arity(name, args, 2)
    return _with_option(_ref(args[1]), "join-alias", args[0])


def _datetime_field(name: str, args: list[Any]) -> Clause:
    if len(args) == 3 and isinstance(args[1], str) and _token(args[1]) == "as":
        args = [args[0], args[2]]
    _arity(name, args, 2)
    return _with_option(_ref(args[0]), "temporal-unit", _token_value(args[1]))


def _binning_strategy(name: str, args: list[Any]) -> Clause:
    """``[binning-strategy ref strategy param? options?]`` -> ``{"binning": {"strategy": s, s: param}}``."""
    _arity(name, args, 2, 3, 4)
    strategy = _token_value(args[1])
    binning = {"strategy": strategy}
    if len(args) > 2 and args[2] is not None:
        binning[strategy] = copy.deepcopy(args[2])
    if len(args) > 3 and isinstance(args[3], Mapping):
        binning.update(_options(args[3]))
    return _with_option(_ref(args[0]), "binning", binning)


def _without_empty_options(name: str, args: list[Any]) -> Clause:
    """``["expression", "X", {}]`` and ``["aggregation", 0, null]`` lose empty options, as in Metabase."""
    out = _generic(name, args)
    if len(out) == 3 and _is_empty(out[2]):
        out.pop()
    return out


def _named(name: str, args: list[Any]) -> Clause:
    """Legacy ``["named", agg, "Name"]``. As in Metabase, the name is a display name unless the options say
    ``{"use-as-display-name?": false}``, which makes it the column name instead."""
    _arity(name, args, 2, 3)
    options = _options(args[2]) if len(args) == 3 and isinstance(args[2], Mapping) else {}
    key = "name" if options.get("use-as-display-name?") is False else "display-name"
    aggregation = [args[0]] if isinstance(args[0], str) else args[0]
    return ["aggregation-options", _expr(aggregation), {key: copy.deepcopy(args[1])}]


def _value(name: str, args: list[Any]) -> Clause:
    """``["value", literal, type-info]``: the literal is never normalized (#23354) and the type info keeps
    legacy MBQL's snake_case keys."""
    _arity(name, args, 1, 2)
    info = args[1] if len(args) == 2 else None
    if info is not None and not isinstance(info, Mapping):
        raise ValueError(f"Invalid value clause: {_show([name, *args])}")
    info = {_snake(k): copy.deepcopy(v) for k, v in (info or {}).items() if v is not None}
    return ["value", copy.deepcopy(args[0]), info or None]


def _time_interval(name: str, args: list[Any]) -> Clause:
    """The clause's unit wins over a temporal unit on its field, so Metabase drops the latter."""
    out = _generic(name, args)
    ref = out[1] if len(out) > 1 else None
    if _is_clause(ref) and ref[0] == "field" and ref[2] and "temporal-unit" in ref[2]:
        options = {k: v for k, v in ref[2].items() if k != "temporal-unit"}
        out[1] = ["field", ref[1], options or None]
    return out


def _substring(name: str, args: list[Any]) -> Clause:
    """Old saved questions used 0 as the first position; Metabase reads it as 1."""
    out = _generic(name, args)
    if len(out) > 2 and _is_id(out[2]) and out[2] == 0:
        out[2] = 1
    return out


_SPECIAL_CLAUSES: dict[str, Callable[[str, list[Any]], Clause]] = {
    "field": _field,
    "field-id": _field_id,
    "field-literal": _field_literal,
    "fk->": _fk,
    "joined-field": _joined_field,
    "datetime-field": _datetime_field,
    "binning-strategy": _binning_strategy,
    "expression": _without_empty_options,
    "aggregation": _without_empty_options,
    "named": _named,
    "value": _value,
    "time-interval": _time_interval,
    "substring": _substring,
}


# How the keys of inner queries and joins are normalized (after the clause functions they refer to).
_INNER_KEYS: dict[str, Handler] = {
    "source-query": _source_query,
    "source-metadata": _source_metadata,
    "joins": _joins,
    "expressions": _expressions,
    "filter": _expr,
    "aggregation": _aggregations,
    "breakout": lambda v: _ref_list(v, "breakout"),
    "fields": lambda v: _ref_list(v, "fields"),
    "order-by": _order_by,
    "page": lambda v: _plain_map(v, "page"),
}

_JOIN_KEYS: dict[str, Handler] = {
    "source-query": _source_query,
    "source-metadata": _source_metadata,
    "condition": _expr,
    "fields": _join_fields,
    "strategy": _token_value,
}


# --- MBQL 5 -> MBQL 4 ---------------------------------------------------------------------------------------


def _is_mbql5(top: dict[str, Any]) -> bool:
    lib_type = top.get("lib/type")
    return (isinstance(lib_type, str) and _token(lib_type) == "mbql/query") or "stages" in top


def _mbql5_to_legacy(top: dict[str, Any]) -> dict[str, Any]:
    """Stages become nested ``source-query`` maps, the last stage outermost; a lone native stage becomes a
    ``"type": "native"`` query. Keys other than ``stages`` (database, parameters, constraints, …) are kept."""
    stages = top.get("stages")
    if not isinstance(stages, list | tuple) or not stages:
        raise ValueError('Invalid MBQL 5 query: "stages" must be a non-empty list')
    inner = _chain_stages(stages)
    out = {k: v for k, v in top.items() if k not in ("stages", "type", "query", "native")}
    if _stage_type(_keys(stages[-1])) == _NATIVE_STAGE:
        out["type"] = "native"
        out["native"] = {("query" if k == "native" else k): v for k, v in inner.items()}
    else:
        out["type"] = "query"
        out["query"] = inner
    return out


def _stage_type(stage: dict[str, Any]) -> str:
    lib_type = stage.get("lib/type")
    if lib_type is None:
        return _NATIVE_STAGE if "native" in stage else _MBQL_STAGE
    stage_type = _token(lib_type) if isinstance(lib_type, str) else None
    if stage_type not in (_NATIVE_STAGE, _MBQL_STAGE):
        raise ValueError(f"Invalid MBQL 5 stage type: {_show(lib_type)}")
    return stage_type


def _chain_stages(stages: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    for index, raw in enumerate(stages):
        if not isinstance(raw, Mapping):
            raise ValueError(f"Invalid MBQL 5 stage: expected a JSON object, got {_show(raw)}")
        stage = _keys(raw)
        if _stage_type(stage) == _NATIVE_STAGE:
            if index > 0:
                raise ValueError("Invalid MBQL 5 query: only the first stage can be a native stage")
            converted = {k: v for k, v in stage.items() if not _is_lib_key(k)}
        else:
            converted = _stage(stage)
            if index > 0:
                converted["source-query"] = inner
        inner = converted
    return inner


def _mbql5_list(mapping: dict[str, Any], key: str) -> list[Any]:
    value = mapping.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValueError(f'Invalid MBQL 5 query: "{key}" must be a list')
    return list(value)


def _and(clauses: list[Any]) -> Any:
    """MBQL 5's implicit-AND lists (``filters``, join ``conditions``) as one legacy boolean clause."""
    return clauses[0] if len(clauses) == 1 else ["and", *clauses]


def _stage(stage: dict[str, Any]) -> dict[str, Any]:
    """One MBQL stage as a legacy inner query (without its ``source-query``)."""
    aggregations = _mbql5_list(stage, "aggregation")
    uuids: dict[str, int] = {}
    for index, aggregation in enumerate(aggregations):
        if _is_mbql5_clause(aggregation):
            uuid = _keys(aggregation[1]).get("lib/uuid")
            if isinstance(uuid, str):
                uuids[uuid] = index
    out: dict[str, Any] = {}
    for key, value in stage.items():
        if _is_lib_key(key):
            continue
        if key == "source-card":
            out["source-table"] = f"card__{value}"
        elif key == "filters":
            filters = [_convert(f, uuids) for f in _mbql5_list(stage, key)]
            if filters:
                out["filter"] = _and(filters)
        elif key == "expressions":
            out[key] = _mbql5_expressions(_mbql5_list(stage, key), uuids)
        elif key == "aggregation":
            out[key] = [_mbql5_aggregation(a, uuids) for a in aggregations]
        elif key == "joins":
            out[key] = [_mbql5_join(j) for j in _mbql5_list(stage, key)]
        elif key in ("breakout", "fields", "order-by"):
            out[key] = [_convert(x, uuids) for x in _mbql5_list(stage, key)]
        else:
            out[key] = value
    return out


def _mbql5_join(raw: Any) -> dict[str, Any]:
    """``stages`` become the join's source (``source-table`` when that is all there is, else
    ``source-query``); ``conditions`` become one ``condition``."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"Invalid join: expected a JSON object, got {_show(raw)}")
    join = _keys(raw)
    stages = join.get("stages")
    if not isinstance(stages, list | tuple) or not stages:
        raise ValueError('Invalid MBQL 5 join: "stages" must be a non-empty list')
    out: dict[str, Any] = {}
    for key, value in join.items():
        if _is_lib_key(key) or key == "stages":
            continue
        if key == "conditions":
            conditions = [_convert(c, {}) for c in _mbql5_list(join, key)]
            if conditions:
                out["condition"] = _and(conditions)
        else:
            out[key] = _convert(value, {})
    inner = _chain_stages(stages)
    if set(inner) <= {"source-table", "source-query"}:
        out.update(inner)
    else:
        out["source-query"] = inner
    return out


def _mbql5_expressions(expressions: list[Any], uuids: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for expression in expressions:
        name = _keys(expression[1]).get("lib/expression-name") if _is_mbql5_clause(expression) else None
        if not isinstance(name, str):
            raise ValueError(f'Invalid MBQL 5 expression without "lib/expression-name": {_show(expression)}')
        out[name] = _convert(expression, uuids)
    return out


def _mbql5_aggregation(aggregation: Any, uuids: dict[str, int]) -> Any:
    """Names (``name``/``display-name`` in the options) move to a wrapping ``aggregation-options`` clause."""
    if _is_mbql5_clause(aggregation):
        tag = _token(aggregation[0])
        options = _mbql5_options(aggregation[1])
        if options and tag not in ("aggregation", "offset"):
            return ["aggregation-options", _convert([tag, {}, *aggregation[2:]], uuids), options]
    return _convert(aggregation, uuids)


def _is_mbql5_clause(x: Any) -> bool:
    return _is_clause(x) and len(x) > 1 and isinstance(x[1], Mapping)


def _mbql5_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in _keys(options).items():
        key = _RENAMED_OPTIONS.get(key, key)
        if value is not None and not _is_lib_key(key) and key not in _MBQL5_ONLY_OPTIONS:
            out[key] = value
    return out


def _convert(x: Any, uuids: dict[str, int]) -> Any:
    """Move an MBQL 5 clause's options from position 1 to where legacy MBQL keeps them (usually last).

    `uuids` maps the stage's aggregation ``lib/uuid``s to their indexes, for ``aggregation`` refs. Anything
    not shaped like an MBQL 5 clause (literals, case pairs, already-legacy clauses) is walked as it is.
    """
    if not _is_mbql5_clause(x):
        if isinstance(x, list | tuple):
            return [_convert(item, uuids) for item in x]
        if isinstance(x, Mapping):
            return {k: _convert(v, uuids) for k, v in x.items()}
        return x
    tag = _token(x[0])
    options = _mbql5_options(x[1])
    if tag == "aggregation":
        uuid = x[2] if len(x) == 3 else None
        if not isinstance(uuid, str) or uuid not in uuids:
            raise ValueError(f"Invalid MBQL 5 query: no aggregation with lib/uuid {_show(uuid)} in its stage")
        return ["aggregation", uuids[uuid], options] if options else ["aggregation", uuids[uuid]]
    args = [_convert(arg, uuids) for arg in x[2:]]
    if tag == "field":
        if len(args) != 1:
            raise ValueError(f"Invalid field reference: {_show(x)}")
        return ["field", args[0], options or None]
    if tag == "value" and len(args) == 1:
        return ["value", args[0], options or None]
    if tag == "offset" or (tag in _STRING_FILTERS and len(args) > 2):
        return [tag, options, *args]  # legacy MBQL keeps these options first, too
    if tag in ("case", "if") and args:
        # legacy: [case pairs {"default": x}]; MBQL 5: [case opts pairs x]
        if len(args) > 1:
            options = {**options, "default": args[1]}
        return [tag, args[0], options] if options else [tag, args[0]]
    return [tag, *args, options] if options else [tag, *args]
