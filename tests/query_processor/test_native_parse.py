"""Parsing native SQL into text, `{{tag}}` placeholders and `[[optional]]` clauses, with Metabase's rules
(cases from its `parse_test.clj` and `substitute_test.clj`) and its error messages."""

from __future__ import annotations

import pytest

from querybase.query_processor.errors import InvalidQuery
from querybase.query_processor.parameters.parse import OptionalClause, Param, Part, parse, snippet_name


def optional(*parts: Part) -> OptionalClause:
    return OptionalClause(parts)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select * from foo where bar=1", ["select * from foo where bar=1"]),
        ("select * from foo where bar={{baz}}", ["select * from foo where bar=", Param("baz")]),
        (
            "select * from foo [[where bar = {{baz}} ]]",
            ["select * from foo ", optional("where bar = ", Param("baz"), " ")],
        ),
        # names are trimmed
        ("{{ toucans_are_cool }}", [Param("toucans_are_cool")]),
        ("{{my var}}", [Param("my var")]),
        # only the last two of three braces open a placeholder (Mongo-style JSON)
        ("[{$match: {{{x}}, field: 1}}]", ["[{$match: {", Param("x"), ", field: 1}}]"]),
        # nested optionals
        (
            "select * from foobars [[ where bird_type = {{bird_type}} [[ AND color = {{color}} ]] ]]",
            [
                "select * from foobars ",
                optional(
                    " where bird_type = ",
                    Param("bird_type"),
                    " ",
                    optional(" AND color = ", Param("color"), " "),
                    " ",
                ),
            ],
        ),
        # a bracket inside a placeholder's value position is plain text (#3657)
        (
            "select * from foobars [[ where foobars.id in (string_to_array({{foobar_id}}, ',')::int[]) ]]",
            [
                "select * from foobars ",
                optional(" where foobars.id in (string_to_array(", Param("foobar_id"), ", ',')::int[]) "),
            ],
        ),
        # markers inside comments are text, the rest of the SQL is not
        ("SELECT 1 -- {{x}} [[ ]]\nWHERE {{y}}", ["SELECT 1 -- {{x}} [[ ]]\nWHERE ", Param("y")]),
        ("SELECT /* {{x}} */ {{y}}", ["SELECT /* {{x}} */ ", Param("y")]),
        # a comment marker inside a string literal does not start a comment
        ("SELECT '--' AS a, {{y}}", ["SELECT '--' AS a, ", Param("y")]),
        # a placeholder inside a string literal is still a placeholder
        ("SELECT '{{x}}'", ["SELECT '", Param("x"), "'"]),
        # a malformed clause inside a string literal stays literal
        ("SELECT '{{x' AS a, {{y}}", ["SELECT '{{x' AS a, ", Param("y")]),
        ("SELECT '[[' AS a, {{y}}", ["SELECT '[[' AS a, ", Param("y")]),
        # snippet and card names have one spelling each
        ("{{snippet:   Orders  Filter }}", [Param("snippet: Orders  Filter")]),
        ("{{ #123-my-card }}", [Param("#123-my-card")]),
        ("x ? y % z :w ::int", ["x ? y % z :w ::int"]),
    ],
)
def test_parse(sql, expected):
    assert parse(sql) == expected


def test_comments_can_be_left_alone():
    assert parse("SELECT 1 -- {{x}}", handle_sql_comments=False) == ["SELECT 1 -- ", Param("x")]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "select * from foo where bar={{baz",
            "Invalid query: found '[[' or '{{' with no matching ']]' or '}}'",
        ),
        (
            "select * from foo [[where bar={{baz}}",
            "Invalid query: found '[[' or '{{' with no matching ']]' or '}}'",
        ),
        ("select {{}}", "Invalid '{{...}}' clause: expected a param name"),
        ("select {{ }}", "'{{...}}' clauses cannot be empty."),
        ("select {{ [[x]] }}", "[[...]] clauses must contain at least one '{{...}}' clause."),
        ("select {{ [[{{x}}]] }}", "Invalid '{{...}}' clause: expected a param name"),
        ("select [[ 1 ]]", "[[...]] clauses must contain at least one '{{...}}' clause."),
    ],
)
def test_malformed_clauses_are_refused_with_metabase_messages(sql, message):
    with pytest.raises(InvalidQuery) as error:
        parse(sql)
    assert error.value.message == message
    assert error.value.error_type == "invalid-query"


def test_snippet_names():
    assert snippet_name("snippet: Orders Filter") == "Orders Filter"
    assert snippet_name("snippets") is None
