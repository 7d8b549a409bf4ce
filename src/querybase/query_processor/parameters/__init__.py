"""Native-query parameters: `{{tag}}` placeholders and `[[optional]]` clauses in SQL text.

    parse.parse(sql)               → text, `Param` and `OptionalClause` parts
    values.resolve(ctx, tags, ps)  → each template tag's typed value (or a `FieldFilter`)
    substitute.substitute(...)     → SQL pieces: text, bound values and field-filter conditions
    dates                          → Metabase's date parameter strings as date ranges

`compile/native.py` puts these together; nothing here runs SQL.
"""

from __future__ import annotations

from querybase.query_processor.errors import InvalidQuery


class InvalidParameter(InvalidQuery):
    """A parameter value or template tag Metabase refuses (its `invalid-parameter` error type)."""

    error_type = "invalid-parameter"
