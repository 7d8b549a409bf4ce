"""Values of raw template tags (`text`, `number`, `date`, `boolean`) and of card and snippet tags, as
Metabase's `values.clj` decides them: matched by name or tag id, defaults, explicit nulls, required tags,
typed parsing. Field filters, which need synced fields, are covered end to end in `test_native_api.py`."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from querybase.query_processor.context import QueryContext
from querybase.query_processor.errors import MissingRequiredParameter, QueryError
from querybase.query_processor.parameters import InvalidParameter
from querybase.query_processor.parameters.values import NO_VALUE, resolve, value_to_number

# Raw-value tags never look anything up; field filters (which do) are tested through the API.
NO_CONTEXT = cast(QueryContext, None)
TAG_ID = "c5bd7f2f-8b2a-4a6e-9d7e-3f2d1a0b9c8e"


def tag(tag_type: str = "text", **extra: Any) -> dict[str, Any]:
    return {"id": TAG_ID, "name": "x", "display-name": "X Value", "type": tag_type, **extra}


def value_of(the_tag: dict[str, Any], *parameters: dict[str, Any]) -> Any:
    return resolve(NO_CONTEXT, {"x": the_tag}, list(parameters))["x"]


def param(value: Any, target: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "category",
        "target": target or ["variable", ["template-tag", "x"]],
        "value": value,
        **extra,
    }


def test_value_by_tag_name_or_tag_id():
    assert value_of(tag(), param("2")) == "2"
    assert value_of(tag(), param("3", ["variable", ["template-tag", {"id": TAG_ID}]])) == "3"


@pytest.mark.parametrize(
    "target",
    [
        ["dimension", ["template-tag", "x"]],  # raw tags are `variable` targets
        ["variable", ["template-tag", "y"]],
        ["variable", ["template-tag", {"id": "another-id"}]],
        ["variable", ["template-tag", "x"], {"stage-number": 1}],
        ["variable", ["field", 1, None]],
    ],
)
def test_parameters_aimed_elsewhere_are_ignored(target):
    assert value_of(tag(default="d"), param("2", target)) == "d"


def test_defaults_explicit_nulls_and_required_tags():
    assert value_of(tag()) is NO_VALUE
    assert value_of(tag(default="100")) == "100"
    # an explicit null clears an optional tag's default …
    assert value_of(tag(default="100"), param(None)) is NO_VALUE
    # … but not a required tag's
    assert value_of(tag(default="100", required=True), param(None)) == "100"
    # a parameter without a value clears an optional tag; a required one takes the tag's default first,
    # then the parameter's
    only_default = {"target": ["variable", ["template-tag", "x"]], "default": "p"}
    assert value_of(tag(default="tag"), only_default) is NO_VALUE
    assert value_of(tag(default="tag", required=True), only_default) == "tag"
    assert value_of(tag(required=True), only_default) == "p"


def test_a_required_tag_without_value_or_default_fails_with_metabase_message():
    with pytest.raises(MissingRequiredParameter) as error:
        value_of(tag(required=True))
    assert error.value.message == "You'll need to pick a value for 'X Value' before this query can run."
    assert error.value.error_type == "missing-required-parameter"


def test_tags_are_all_resolved_even_when_the_sql_does_not_use_them():
    with pytest.raises(MissingRequiredParameter):
        resolve(NO_CONTEXT, {"x": tag(), "unused": {**tag(required=True), "name": "unused"}}, [])


def test_two_values_for_a_raw_tag_are_refused():
    with pytest.raises(InvalidParameter) as error:
        value_of(tag(), param("1"), param("2"))
    assert error.value.message == (
        "Error: multiple values specified for parameter; non-Field Filter parameters can only have one value."
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30),
        ("-7", -7),
        ("2.5", 2.5),
        (".5", 0.5),
        (30, 30),
        (2.5, 2.5),
        ("1,2,3", [1, 2, 3]),
        ([1, "2"], [1, 2]),
        (["1,2", 3], [1, 2, 3]),
        ("99999999999999999999", 99999999999999999999),
    ],
)
def test_number_tags_parse_numbers(value, expected):
    assert value_of(tag("number"), param(value)) == expected
    assert value_to_number(value) == expected


@pytest.mark.parametrize(
    "value", ["1 OR 1=1", "1; DROP TABLE venues", " 30", "0x10", "1e5", "", "1_000", "abc"]
)
def test_number_tags_refuse_anything_else(value):
    with pytest.raises(InvalidParameter) as error:
        value_of(tag("number"), param(value))
    assert error.value.message == f'For input string: "{value}"'
    assert error.value.error_type == "invalid-parameter"


def test_number_tag_defaults_are_parsed_too():
    assert value_of(tag("number", default="100")) == 100


def test_date_tags_parse_dates():
    assert value_of(tag("date"), param("2016-07-19")) == dt.date(2016, 7, 19)
    assert value_of(tag("date"), param("2016-07-19T10:30:00")) == dt.datetime(2016, 7, 19, 10, 30)
    assert value_of(tag("date"), param(["2016-07-19", "2016-07-20"])) == [
        dt.date(2016, 7, 19),
        dt.date(2016, 7, 20),
    ]
    with pytest.raises(InvalidParameter) as error:
        value_of(tag("date"), param("2016-07-19' OR '1'='1"))
    assert (
        error.value.message == "Don't know how to parse date param '2016-07-19' OR '1'='1' — invalid format"
    )


def test_text_and_boolean_tags_keep_their_value():
    assert value_of(tag(), param("x' OR '1'='1")) == "x' OR '1'='1"
    assert value_of(tag(), param(["a", "b"])) == ["a", "b"]
    assert value_of(tag("boolean"), param(False)) is False
    with pytest.raises(InvalidParameter):
        value_of(tag(), param({"nested": "object"}))


@pytest.mark.parametrize(
    ("the_tag", "error_type", "message"),
    [
        # Unknown cards and snippets need the app DB: tests/query_processor/test_saved_sources.py.
        (tag("card"), "invalid-parameter", "Invalid :card parameter: missing `:card-id`"),
        (tag("colour"), "invalid-parameter", "Don't know how to parse parameter of type :colour"),
        (
            tag("temporal-unit"),
            "unsupported-feature",
            "Template tags of type temporal-unit are not supported yet.",
        ),
    ],
)
def test_card_snippet_and_unknown_tags_are_refused(the_tag, error_type, message):
    with pytest.raises(QueryError) as error:
        value_of(the_tag)
    assert (error.value.error_type, error.value.message) == (error_type, message)
