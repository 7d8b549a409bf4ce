"""Downloads (CSV, JSON, XLSX): exact bytes as Metabase writes them, typed XLSX cells, column order from the
card, response headers, and flat memory for a million rows."""

from __future__ import annotations

import datetime as dt
import io
import random
import tempfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from querybase.query_processor.execute import BATCH_SIZE
from querybase.query_processor.postprocess.format_rows import format_batches
from querybase.query_processor.streaming import (
    card_filename_prefix,
    content_disposition,
    download_headers,
    media_type,
    order_cols,
    stream,
)
from querybase.query_processor.streaming.common import VizSettings, cell_formatter, clj_str

UTC = dt.UTC


def col(name: str, display_name: str, base_type: str, semantic_type: str | None = None, **extra: Any) -> dict:
    field_id = extra.pop("id", None)
    return {
        "name": name,
        "display_name": display_name,
        "base_type": base_type,
        "effective_type": base_type,
        "semantic_type": semantic_type,
        "field_ref": ["field", field_id, None] if field_id else ["field", name, {"base-type": base_type}],
        **({"id": field_id} if field_id else {}),
        **extra,
    }


COLS = [
    col("ID", "ID", "type/BigInteger", "type/PK", id=1),
    col("TOTAL", "Total", "type/Float", id=2),
    col("DISCOUNT", "Discount", "type/Float", "type/Discount", id=3),
    col("QUANTITY", "Quantity", "type/Integer", "type/Quantity", id=4),
    col("CREATED_AT", "Created At", "type/DateTimeWithLocalTZ", "type/CreationTimestamp", id=5),
    col("BIRTH_DATE", "Birth Date", "type/Date", id=6),
    col("OPENS_AT", "Opens At", "type/Time", id=7),
    col("SEEN_AT", "Seen At", "type/DateTime", id=8),
    col("ACTIVE", "Active", "type/Boolean", id=9),
    col("NAME", "Name", "type/Text", id=10),
]
# As the query processor hands them over: temporal values are API strings in the report timezone (UTC).
ROWS = [
    [1, 1234.567, 6.4, 1234567, "2014-04-01T08:30:00Z", "2014-04-07T00:00:00Z", "08:05:06",
     "2020-06-03T00:00:00Z", True, 'He said "hi", then\nleft'],
    [2, 0.012345, None, 7, "2016-01-01T00:00:00Z", None, None, "2020-06-03T23:41:23.5Z", False,
     "Zoë, café ☕"],
    [3, 10000000.0, 0.0, 0, None, "1999-12-31T00:00:00Z", "23:59:59", None, None, None],
]  # fmt: skip


def download(
    export_format: str, rows: list[list[Any]] = ROWS, cols: list[dict] = COLS, **kwargs: Any
) -> bytes:
    kwargs.setdefault("format_rows", False)
    return b"".join(stream(export_format, cols, batches(rows), **kwargs))


def batches(rows: list[list[Any]], size: int = 2) -> Iterator[list[list[Any]]]:
    """Rows as the query processor hands them over: in batches (small here, so batch edges are crossed)."""
    return (rows[i : i + size] for i in range(0, len(rows), size))


# --- CSV


def test_csv_unformatted_writes_plain_values_as_metabase_prints_them():
    assert download("csv").decode() == (
        "ID,Total,Discount ($),Quantity,Created At,Birth Date,Opens At,Seen At,Active,Name\n"
        "1,1234.567,6.4,1234567,2014-04-01T08:30:00Z,2014-04-07,08:05:06,2020-06-03,true,"
        '"He said ""hi"", then\nleft"\n'
        '2,0.012345,,7,2016-01-01T00:00:00Z,,,2020-06-03T23:41:23.5,false,"Zoë, café ☕"\n'
        "3,1.0E7,0.0,0,,1999-12-31,23:59:59,,,\n"
    )


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_naive_iso_timestamps_known_from_row_formatting_give_the_same_download(export_format):
    """SQLite's naive ISO text, kept as it is in the batch (`FormattedBatch.naive_iso`) and given its
    `Z` only when read as rows: the writer's shortcut gives what checking every value gives, the midnight
    value as a date."""
    cols = [col("ID", "ID", "type/Integer"), col("AT", "At", "type/DateTime")]
    raw = [[1, "2024-02-11T10:00:00"], [2, "2024-02-12T00:00:00"], [3, "2024-02-13T23:59:59"]]
    formatted = list(format_batches(cols, iter([raw])))
    assert formatted[0].naive_iso == {
        1: ["2024-02-11T10:00:00", "2024-02-12T00:00:00", "2024-02-13T23:59:59"]
    }
    assert list(formatted[0]) == [
        (1, "2024-02-11T10:00:00Z"),
        (2, "2024-02-12T00:00:00Z"),
        (3, "2024-02-13T23:59:59Z"),
    ]
    assert (len(formatted[0]), formatted[0][1]) == (3, (2, "2024-02-12T00:00:00Z"))
    marked = b"".join(stream(export_format, cols, iter(formatted), format_rows=False))
    unmarked = b"".join(stream(export_format, cols, iter([list(formatted[0])]), format_rows=False))
    assert marked == unmarked
    if export_format == "csv":
        assert marked.decode() == "ID,At\n1,2024-02-11T10:00:00\n2,2024-02-12\n3,2024-02-13T23:59:59\n"


@pytest.mark.parametrize(
    "values",
    [
        ["2024-02-11 10:00:00"],
        ["2024-02-11T10:00:00", None],
        ["\u0662\u0660\u0662\u0664-02-11T10:00:00"],  # Arabic-Indic digits: no ISO text
        ["2024-02-11T10:00:00.5", "2024-02-11T10:00:00.\u0665"],
        ["2024-02-11T10:00:0", "02024-02-11T10:00:00"],  # run together, they read as two plain values
        ["2024-02-11T10:00:00.1234567"],  # seven digits: read as a time, and cut to six
        ["2024-02-11T10:00:00.", "2024-02-11T10:00:00.5"],
        ["2024-02-11T10:00:00.5\n2024-02-11T10:00:00"],  # two lines in one value
    ],
)
def test_only_naive_iso_text_skips_formatting(values):
    """The whole-column checks for SQLite's naive ISO text let nothing else through: anything else is
    formatted value by value."""
    cols = [col("ID", "ID", "type/Integer"), col("AT", "At", "type/DateTime")]
    formatted = next(format_batches(cols, iter([[[i, v] for i, v in enumerate(values)]])))
    assert formatted.naive_iso == {}


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_naive_iso_text_with_fractions_is_formatted_as_a_whole_column(export_format):
    """Fractions of a second lose their trailing zeros as each value's formatting drops them, whatever
    their length; the downloads are the same as from formatted rows."""
    cols = [col("ID", "ID", "type/Integer"), col("AT", "At", "type/DateTime")]
    values = [
        "2024-02-11T21:40:27.892",
        "2024-02-11T08:04:04.580",
        "2024-02-11T08:04:04.500000",
        "2024-02-11T10:00:00.05",
        "2024-02-11T10:00:50",
        "2024-02-12T00:00:00.000",
        "2024-02-12T00:00:00.5",
    ]
    formatted = next(format_batches(cols, iter([[[i, v] for i, v in enumerate(values)]])))
    assert formatted.naive_iso == {
        1: [
            "2024-02-11T21:40:27.892",
            "2024-02-11T08:04:04.58",
            "2024-02-11T08:04:04.5",
            "2024-02-11T10:00:00.05",
            "2024-02-11T10:00:50",
            "2024-02-12T00:00:00",
            "2024-02-12T00:00:00.5",
        ]
    }
    assert [row[1] for row in formatted] == [value + "Z" for value in formatted.naive_iso[1]]
    marked = b"".join(stream(export_format, cols, iter([formatted]), format_rows=False))
    unmarked = b"".join(stream(export_format, cols, iter([list(formatted)]), format_rows=False))
    assert marked == unmarked
    if export_format == "csv":
        assert marked.decode().splitlines()[-2:] == ["5,2024-02-12", "6,2024-02-12T00:00:00.5"]


def test_naive_iso_text_as_a_column_gives_what_each_value_gives():
    """Random naive ISO text, a column at a time and a value at a time, in batches whose values all have
    fractions, none do, or some do."""
    rng = random.Random(7)  # its own generator: the module's is shared with every other test
    cols = [col("AT", "At", "type/DateTime")]

    def value(fraction_digits: int) -> str:
        fraction = "".join(rng.choice("0000123456789") for _ in range(fraction_digits))
        return f"20{rng.randint(0, 99):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T" + (
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            + (f".{fraction}" if fraction_digits else "")
        )

    for digits in ([0], [1, 2, 3, 4, 5, 6], [0, 3, 6]):
        values = [value(rng.choice(digits)) for _ in range(500)]
        whole = next(format_batches(cols, iter([[[v] for v in values]])))
        assert whole.naive_iso
        one_by_one = [next(format_batches(cols, iter([[[v], [None]]])))[0][0] for v in values]
        assert [row[0] for row in whole] == one_by_one


def test_csv_formatted_writes_what_the_ui_shows():
    assert download("csv", format_rows=True).decode() == (
        "ID,Total,Discount ($),Quantity,Created At,Birth Date,Opens At,Seen At,Active,Name\n"
        '1,"1,234.57",6.40,"1,234,567","April 1, 2014, 8:30 AM","April 7, 2014",8:05 AM,'
        '"June 3, 2020, 12:00 AM",true,"He said ""hi"", then\nleft"\n'
        '2,0.012,,7,"January 1, 2016, 12:00 AM",,,"June 3, 2020, 11:41 PM",false,"Zoë, café ☕"\n'
        '3,"10,000,000",0.00,0,,"December 31, 1999",11:59 PM,,,\n'
    )


def test_csv_is_utf8_without_bom_and_lf_line_ends():
    body = download("csv", rows=[[1, 1.5, None, 1, None, None, None, None, True, "\r"]])
    assert body.startswith(b"ID,")
    assert body.endswith(b'true,"\r"\n')
    assert b"\r\n" not in body


def test_csv_of_no_rows_is_the_header_only():
    assert download("csv", rows=[], cols=COLS[:2]) == b"ID,Total\n"


def test_csv_duplicate_titles_stay_separate_columns():
    cols = [col("A", "Count", "type/Integer"), col("B", "Count", "type/Integer")]
    assert download("csv", rows=[[1, 2]], cols=cols) == b"Count,Count\n1,2\n"


# --- JSON


def test_json_unformatted_is_an_array_of_objects_keyed_by_title():
    assert download("json").decode() == (
        "[\n"
        '{"ID":1,"Total":1234.567,"Discount ($)":6.4,"Quantity":1234567,"Created At":"2014-04-01T08:30:00Z",'
        '"Birth Date":"2014-04-07","Opens At":"08:05:06","Seen At":"2020-06-03","Active":true,'
        '"Name":"He said \\"hi\\", then\\nleft"},\n'
        '{"ID":2,"Total":0.012345,"Discount ($)":null,"Quantity":7,"Created At":"2016-01-01T00:00:00Z",'
        '"Birth Date":null,"Opens At":null,"Seen At":"2020-06-03T23:41:23.5","Active":false,'
        '"Name":"Zoë, café ☕"},\n'
        '{"ID":3,"Total":10000000.0,"Discount ($)":0.0,"Quantity":0,"Created At":null,'
        '"Birth Date":"1999-12-31","Opens At":"23:59:59","Seen At":null,"Active":null,"Name":null}'
        "\n]"
    )


def test_json_formatted_values_are_display_strings_and_missing_numbers_stay_null():
    assert download("json", format_rows=True).decode() == (
        "[\n"
        '{"ID":"1","Total":"1,234.57","Discount ($)":"6.40","Quantity":"1,234,567",'
        '"Created At":"April 1, 2014, 8:30 AM","Birth Date":"April 7, 2014","Opens At":"8:05 AM",'
        '"Seen At":"June 3, 2020, 12:00 AM","Active":"true","Name":"He said \\"hi\\", then\\nleft"},\n'
        '{"ID":"2","Total":"0.012","Discount ($)":null,"Quantity":"7",'
        '"Created At":"January 1, 2016, 12:00 AM",'
        '"Birth Date":"","Opens At":"","Seen At":"June 3, 2020, 11:41 PM","Active":"false",'
        '"Name":"Zoë, café ☕"},\n'
        '{"ID":"3","Total":"10,000,000","Discount ($)":"0.00","Quantity":"0","Created At":"",'
        '"Birth Date":"December 31, 1999","Opens At":"11:59 PM","Seen At":"","Active":"","Name":""}'
        "\n]"
    )


def test_json_of_no_rows_is_an_empty_array():
    assert download("json", rows=[]) == b"[\n\n]"


def test_json_duplicate_titles_keep_the_last_value():
    cols = [col("A", "Count", "type/Integer"), col("B", "Count", "type/Integer")]
    assert download("json", rows=[[1, 2]], cols=cols) == b'[\n{"Count":2}\n]'


def test_json_rows_of_many_batches_and_integers_past_64_bits():
    """Rows are encoded a few at a time (`_ROWS_PER_JOIN`); one holding an integer orjson cannot write
    still comes out exact, as do the rows around it, and so do rows across batches."""
    cols = [col("ID", "ID", "type/Integer"), col("N", "N", "type/BigInteger")]
    rows = [[i, i * 10] for i in range(150)]
    rows[70][1] = 2**70
    expected = ",\n".join(f'{{"ID":{i},"N":{2**70 if i == 70 else i * 10}}}' for i in range(150))
    body = b"".join(stream("json", cols, batches(rows, 100), format_rows=False)).decode()
    assert body == "[\n" + expected + "\n]"


# --- Value formatting


def formatted(column: dict, value: Any, settings: dict | None = None) -> Any:
    viz = VizSettings({"column_settings": {f'["name","{column["name"]}"]': settings}} if settings else None)
    return cell_formatter(column, viz, format_rows=True)(value)


FLOAT = col("X", "X", "type/Float")
INTEGER = col("N", "N", "type/Integer")


@pytest.mark.parametrize(
    ("column", "value", "settings", "expected"),
    [
        (FLOAT, 1234.567, None, "1,234.57"),
        (FLOAT, 3019.2, None, "3,019.2"),
        (FLOAT, 391.0, None, "391"),
        (FLOAT, -1234.5, None, "-1,234.5"),
        (FLOAT, 0.5, None, "0.5"),
        (FLOAT, 0.012345, None, "0.012"),  # below 1: two significant digits
        (FLOAT, 1.005, None, "1"),  # half-up on the exact binary value, 1.00499999...
        (FLOAT, 0.125, None, "0.13"),
        (FLOAT, 0.0, None, "0"),
        (INTEGER, 1234567, None, "1,234,567"),
        (INTEGER, None, None, None),
        (col("P", "P", "type/Float", "type/Percentage"), 0.1234, None, "12.34%"),
        (FLOAT, 0.5, {"number_style": "percent"}, "50%"),
        (FLOAT, 1234.5, {"decimals": 0}, "1,235"),
        (FLOAT, 1234.5, {"decimals": 3}, "1,234.500"),
        (FLOAT, 1234.5, {"number_separators": ",."}, "1.234,5"),
        (FLOAT, 1234.5, {"number_separators": "."}, "1234.5"),
        (FLOAT, 12.0, {"scale": 0.5, "prefix": "~", "suffix": " kg"}, "~6 kg"),
        (INTEGER, 3, {"scale": 2.13}, "6.39"),
        (FLOAT, 2185.89, {"number_style": "currency", "currency_in_header": False}, "$2,185.89"),
        (FLOAT, 2185.89, {"number_style": "currency", "currency": "CAD", "currency_style": "name",
                          "currency_in_header": False}, "2,185.89 Canadian dollars"),
        (FLOAT, 5.0, {"number_style": "currency", "currency": "EUR", "currency_style": "code",
                      "currency_in_header": False}, "EUR 5.00"),
        (FLOAT, 1234.5, {"number_style": "currency", "currency": "JPY"}, "1,235"),
        (col("PK", "PK", "type/Integer", "type/PK"), 123456, None, "123456"),
        (col("L", "L", "type/Float", "type/Latitude"), 34.0996, None, "34.09960000° N"),
        (col("L", "L", "type/Float", "type/Longitude"), -118.329, None, "118.32900000° W"),
        (col("T", "T", "type/Text"), 42, None, "42"),
        (col("B", "B", "type/Boolean"), False, None, "false"),
        (col("J", "J", "type/Dictionary"), {"a": [1, 2]}, None, '{"a":[1,2]}'),
    ],
)  # fmt: skip
def test_numbers_and_other_values_format_like_the_ui(column, value, settings, expected):
    assert formatted(column, value, settings) == expected


NOW = "2020-07-16T18:04:00Z"


def temporal(base_type: str, unit: str | None = None) -> dict:
    return col("T", "T", base_type, unit=unit) if unit else col("T", "T", base_type)


@pytest.mark.parametrize(
    ("column", "value", "settings", "expected"),
    [
        (temporal("type/DateTime", "minute"), NOW, None, "July, 2020, 6:04 PM"),
        (temporal("type/DateTime", "hour"), NOW, None, "July 16, 2020, 6 PM"),
        (temporal("type/DateTime", "day"), NOW, None, "Thursday, July 16, 2020"),
        (temporal("type/DateTime", "week"), NOW, None, "July 16, 2020 - July 22, 2020"),
        (temporal("type/DateTime", "month"), NOW, None, "July, 2020"),
        (temporal("type/DateTime", "quarter"), NOW, None, "Q3 - 2020"),
        (temporal("type/DateTime", "year"), NOW, None, "2020"),
        (temporal("type/DateTime", "default"), NOW, None, "July 16, 2020, 6:04 PM"),
        (temporal("type/DateTime"), "2014-04-01T08:30:00", None, "April 1, 2014, 8:30 AM"),
        (temporal("type/DateTime"), "2014-04-01T08:30:00-07:00", None, "April 1, 2014, 8:30 AM"),
        (temporal("type/DateTime"), "2014-04-01T08:30:00", {"time_enabled": None}, "April 1, 2014"),
        (temporal("type/DateTime"), "2023-12-11T21:51:57.265914Z",
         {"date_style": "dddd, MMMM D, YYYY", "time_enabled": "milliseconds", "time_style": "h:mm a"},
         "Monday, December 11, 2023, 9:51:57.265 PM"),
        (temporal("type/DateTime"), "2023-12-11T21:51:57Z", {"time_style": "HH:mm"},
         "December 11, 2023, 21:51"),
        (temporal("type/Date"), NOW, {"date_style": "D MMMM, YYYY"}, "16 July, 2020"),
        (temporal("type/Date"), NOW, {"date_abbreviate": True}, "Jul 16, 2020"),
        (temporal("type/Date"), NOW, {"date_style": "M/D/YYYY", "date_separator": "-"}, "7-16-2020"),
        (temporal("type/Date"), "2008-12-31", {"date_style": "YYYY-MM-dd"}, "2008-12-31"),
        (temporal("type/Time"), "08:05:06Z", None, "8:05 AM"),
        (temporal("type/Time"), "08:05:06Z", {"time_enabled": None}, ""),
        (temporal("type/Time", "default"), "15:30:45Z", None, "3:30 PM"),
        (col("T", "T", "type/DateTime", "type/Category"), NOW, None, "July 16, 2020"),  # semantic type first
        (temporal("type/Temporal", "default"), "15:30:45Z", None, "15:30:45Z"),  # no date: the raw string
        (temporal("type/DateTime"), "not a date", None, "not a date"),
        (temporal("type/DateTime"), None, None, ""),
    ],
)  # fmt: skip
def test_temporal_values_format_like_metabase(column, value, settings, expected):
    assert formatted(column, value, settings) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, "1.0"), (100.0, "100.0"), (1e7, "1.0E7"), (12345678.9, "1.23456789E7"), (0.001, "0.001"),
     (0.0001, "1.0E-4"), (-2.5e22, "-2.5E22"), (-0.0, "-0.0"), (None, ""), (True, "true"), (7, "7")],
)  # fmt: skip
def test_plain_values_print_as_clojure_str(value, expected):
    assert clj_str(value) == expected


# --- Column titles and order


def test_column_title_setting_applies_only_when_formatting():
    viz = {"column_settings": {'["ref",["field",2,null]]': {"column_title": "Grand Total"}}}
    assert download("csv", rows=[], cols=COLS[:2], visualization_settings=viz) == b"ID,Total\n"
    assert download("csv", rows=[], cols=COLS[:2], format_rows=True, visualization_settings=viz) == (
        b"ID,Grand Total\n"
    )


def test_currency_header_follows_the_currency_settings():
    total = col("sum", "Sum of Total", "type/Float", field_ref=["aggregation", 0])
    in_header = {"column_settings": {'["name","sum"]': {"number_style": "currency", "currency": "CAD"}}}
    inline = {
        "column_settings": {'["name","sum"]': {"number_style": "currency", "currency_in_header": False}}
    }
    rows = [[2185.886]]
    assert download("csv", rows, [total], format_rows=True, visualization_settings=in_header) == (
        b'Sum of Total (CA$)\n"2,185.89"\n'
    )
    assert download("csv", rows, [total], format_rows=True, visualization_settings=inline) == (
        b'Sum of Total\n"$2,185.89"\n'
    )


def test_table_columns_setting_orders_and_hides_columns():
    viz = {
        "table.columns": [
            {"name": "NAME", "fieldRef": ["field", 10, None], "enabled": True},
            {"name": "ID", "fieldRef": ["field", 1, None], "enabled": True},
            {"name": "TOTAL", "fieldRef": ["field", 2, None], "enabled": False},
        ]
    }
    cols, order = order_cols(COLS[:3] + COLS[9:], viz)
    # Columns the setting doesn't mention (a question edited since) come after the listed ones.
    assert [c["name"] for c in cols] == ["NAME", "ID", "DISCOUNT"]
    assert order == [3, 0, 2]
    assert download("csv", [[1, 2.5, 0.5, "x"]], COLS[:3] + COLS[9:], visualization_settings=viz) == (
        b"Name,ID,Discount ($)\nx,1,0.5\n"
    )


def test_table_columns_naming_a_missing_column_is_ignored():
    viz = {"table.columns": [{"name": "GONE", "fieldRef": ["field", 99, None], "enabled": True}]}
    assert order_cols(COLS[:2], viz)[1] == [0, 1]


def test_remapped_column_takes_its_source_place():
    product_id = col("PRODUCT_ID", "Product ID", "type/Integer", "type/FK", id=20, remapped_to="TITLE")
    title = col("TITLE", "Product → Title", "type/Text", id=21, remapped_from="PRODUCT_ID")
    cols, order = order_cols([product_id, COLS[1], title], None)
    assert [c["name"] for c in cols] == ["TITLE", "TOTAL"]
    assert order == [2, 1]


def test_duplicate_names_are_made_unique():
    cols, _ = order_cols([{"name": "A"}, {"name": "A"}, {"name": "A", "display_name": "Third"}], None)
    assert [(c["name"], c["display_name"]) for c in cols] == [("A", "A"), ("A_2", "A"), ("A_3", "Third")]


# --- XLSX


def read_xlsx(body: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(body))


def test_xlsx_has_a_query_result_sheet_with_typed_cells():
    sheet = read_xlsx(download("xlsx", format_rows=True))["Query result"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values == [
        [c["display_name"] if c["name"] != "DISCOUNT" else "Discount ($)" for c in COLS],
        [1, 1234.567, 6.4, 1234567, dt.datetime(2014, 4, 1, 8, 30), dt.datetime(2014, 4, 7),
         dt.time(8, 5, 6), dt.datetime(2020, 6, 3), True, 'He said "hi", then\nleft'],
        [2, 0.012345, None, 7, dt.datetime(2016, 1, 1), None, None,
         dt.datetime(2020, 6, 3, 23, 41, 23, 500000), False, "Zoë, café ☕"],
        [3, 10000000, 0, 0, None, dt.datetime(1999, 12, 31), dt.time(23, 59, 59), None, None, None],
    ]  # fmt: skip
    formats = [[cell.number_format for cell in row] for row in sheet.iter_rows(min_row=2, max_row=3)]
    assert formats == [
        ["0", "#,##0.##", "#,##0.##", "#,##0", "mmmm d, yyyy, h:mm am/pm", "mmmm d, yyyy", "h:mm am/pm",
         "mmmm d, yyyy, h:mm am/pm", "General", "General"],
        ["0", "#,##0.##", "General", "#,##0", "mmmm d, yyyy, h:mm am/pm", "General", "General",
         "mmmm d, yyyy, h:mm am/pm", "General", "General"],
    ]  # fmt: skip
    assert sheet.auto_filter.ref == "A1:J1"
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["J"].width > sheet.column_dimensions["A"].width


def test_xlsx_unformatted_uses_only_the_default_number_and_date_formats():
    sheet = read_xlsx(download("xlsx", rows=ROWS[:1]))["Query result"]
    assert [cell.number_format for cell in sheet[2]][:5] == [
        "#,##0",  # a PK would be "0" with formatting on
        "#,##0.##",
        "#,##0.##",
        "#,##0",
        "mmmm d, yyyy, h:mm am/pm",
    ]


def test_xlsx_formatted_columns_get_excel_formats_from_their_settings():
    cols = [
        col("DISCOUNT", "Discount", "type/Float", "type/Discount", id=3),
        col("count", "Count", "type/BigInteger", field_ref=["aggregation", 0]),
        col("CREATED_AT", "Created At: Month", "type/DateTime", "type/CreationTimestamp", id=5, unit="month"),
        col("PRICE", "Price", "type/Float", id=11),
    ]
    viz = {
        "column_settings": {
            '["ref",["field",3,null]]': {"currency_in_header": False},
            '["name","count"]': {"number_style": "percent"},
            '["ref",["field",11,null]]': {"prefix": "~", "decimals": 1},
        }
    }
    rows = [[6.42, 42, "2016-05-01T00:00:00Z", 3.25]]
    sheet = read_xlsx(download("xlsx", rows, cols, format_rows=True, visualization_settings=viz))[
        "Query result"
    ]
    assert [cell.value for cell in sheet[1]] == ["Discount", "Count", "Created At: Month", "Price"]
    assert [cell.number_format for cell in sheet[2]] == [
        "[$$]#,##0.00",
        "#,##0.00%",
        "mmmm, yyyy",
        '"~"#,##0.0',
    ]
    assert [cell.value for cell in sheet[2]] == [6.42, 42, dt.datetime(2016, 5, 1), 3.25]


@pytest.mark.parametrize(
    ("decimals", "shown", "excel_format"),
    [
        ("two", "1,234.57", '"~"#,##0.00'),  # not a number: as if unset
        (True, "1,234.57", '"~"#,##0.00'),
        (-3, "1,235", '"~"#,##0'),
        (2.0, "1,234.57", '"~"#,##0.00'),
        (10**9, None, '"~"#,##0.' + "0" * 340),  # java.text.DecimalFormat shows 340 at most
    ],
)
def test_a_decimals_setting_out_of_range_or_not_a_number_never_fails_a_download(
    decimals, shown, excel_format
):
    """Found by the fuzzing follow-up: `int("two")` failed the download mid-stream, and a billion places
    made a billion-character number."""
    cols = [col("PRICE", "Price", "type/Float", id=11)]
    viz = {"column_settings": {'["ref",["field",11,null]]': {"prefix": "~", "decimals": decimals}}}
    csv_text = download("csv", [[1234.567]], cols, format_rows=True, visualization_settings=viz).decode()
    value = csv_text.splitlines()[1]
    if shown is not None:
        assert value == f'"~{shown}"'  # quoted: it holds a comma
    else:
        assert value.startswith('"~1,234.567') and len(value.split(".")[1]) == 340 + 1
    sheet = read_xlsx(download("xlsx", [[1234.567]], cols, format_rows=True, visualization_settings=viz))
    cell = sheet["Query result"]["A2"]
    assert (cell.value, cell.number_format) == (1234.567, excel_format)


def test_xlsx_applies_scale_and_writes_coordinates_and_long_text_as_strings():
    cols = [col("Q", "Quantity", "type/Integer"), col("L", "Latitude", "type/Float", "type/Latitude"),
            col("T", "Notes", "type/Text"), col("J", "Data", "type/JSON")]  # fmt: skip
    viz = {"column_settings": {'["name","Q"]': {"scale": 2}}}
    body = download("xlsx", [[3, 34.0996, "x" * 40000, {"a": 1}]], cols, visualization_settings=viz)
    row = [cell.value for cell in read_xlsx(body)["Query result"][2]]
    assert row == [6, "34.09960000° N", "x" * 32767, '{"a":1}']


def test_xlsx_of_no_rows_is_the_header_only():
    sheet = read_xlsx(download("xlsx", rows=[], cols=COLS[:2]))["Query result"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [["ID", "Total"]]


def test_xlsx_temporary_files_are_removed_when_a_download_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def failing_batches() -> Iterator[list[list[Any]]]:
        yield [[1, 1.5]]
        raise RuntimeError("warehouse connection lost")

    with pytest.raises(RuntimeError, match="warehouse connection lost"):
        b"".join(stream("xlsx", COLS[:2], failing_batches(), format_rows=False))
    assert list(tmp_path.iterdir()) == []
    assert b"".join(stream("xlsx", COLS[:2], iter([[[1, 1.5]]]), format_rows=False)).startswith(b"PK")
    assert list(tmp_path.iterdir()) == []


# --- HTTP details


def test_media_types():
    assert media_type("csv") == "text/csv"
    assert media_type("json") == "application/json; charset=utf-8"
    assert media_type("xlsx") == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2024, 5, 3, 12, 34, 56, 789000, UTC), "2024-05-03T12:34:56.789Z"),
        (dt.datetime(2024, 5, 3, 12, 34, 56, 123456, UTC), "2024-05-03T12:34:56.123456Z"),
        (dt.datetime(2024, 5, 3, 12, 34, 0, tzinfo=UTC), "2024-05-03T12:34:00Z"),
        (dt.datetime(2024, 5, 3, 5, 34, 56, 500000, dt.timezone(dt.timedelta(hours=-7))),
         "2024-05-03T05:34:56.5-07:00"),
        (dt.datetime(2024, 5, 3, 18, 4, 56, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
         "2024-05-03T18:04:56+05:30"),
    ],
)  # fmt: skip
def test_filename_timestamp_is_java_iso_offset_date_time(now, expected):
    assert content_disposition("xlsx", now=now) == f'attachment; filename="query_result_{expected}.xlsx"'


def test_download_headers():
    now = dt.datetime(2024, 5, 3, 12, 34, 56, 789000, UTC)
    assert download_headers("csv", card_filename_prefix("Orders, by month"), now=now) == {
        "Content-Type": "text/csv",
        "Content-Disposition": 'attachment; filename="orders__by_month_2024-05-03T12:34:56.789Z.csv"',
        "Cache-Control": "max-age=0, no-cache, must-revalidate, proxy-revalidate",
        "Expires": "Tue, 03 Jul 2001 06:00:00 GMT",
        "X-Accel-Buffering": "no",
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Orders, by month", "orders__by_month"), ("  Café Ünicode  ", "cafe_unicode"),
     ("日本", "%E6%97%A5%E6%9C%AC"), ("   ", "question"), (None, "question"), ("a" * 300, "a" * 200)],
)  # fmt: skip
def test_card_filename_prefix_is_metabase_slug(name, expected):
    assert card_filename_prefix(name) == expected


def test_unknown_format_fails_before_any_row_is_read():
    rows = batches(ROWS)
    with pytest.raises(ValueError, match="Unknown export format: 'pdf'"):
        stream("pdf", COLS, rows, format_rows=False)
    assert next(rows) == ROWS[:2]


# --- Many rows: flat memory, and CSV/JSON bytes flow before the last row is read. (The benchmark in bench/
# streams a million; a quarter of that is enough here to catch a writer that buffers, and keeps CI fast.)

MANY = 250_000
MEMORY_BOUND = 8 * 1024 * 1024  # under the 11+ MB of CSV these rows make, so buffering would fail


class CountingRows:
    """Generates rows on demand, in the query processor's batches, and counts how many were pulled."""

    def __init__(self, count: int, make_row: Any) -> None:
        self.count, self.make_row, self.pulled = count, make_row, 0

    def __iter__(self) -> Iterator[list[list[Any]]]:
        for start in range(0, self.count, BATCH_SIZE):
            batch = [self.make_row(i) for i in range(start, min(start + BATCH_SIZE, self.count))]
            self.pulled += len(batch)
            yield batch


def stream_many(export_format: str, cols: list[dict], make_row: Any) -> tuple[int, list[int], int]:
    """(peak traced bytes, rows pulled when each of the first chunks came out, total bytes)."""
    rows = CountingRows(MANY, make_row)
    pulled_at_chunk: list[int] = []
    total = 0
    tracemalloc.start()
    try:
        for chunk in stream(export_format, cols, rows, format_rows=False):
            if len(pulled_at_chunk) < 3:
                pulled_at_chunk.append(rows.pulled)
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows.pulled == MANY
    return peak, pulled_at_chunk, total


BIG_COLS = [COLS[0], COLS[1], COLS[9], COLS[4]]


def big_row(i: int) -> list[Any]:
    return [i, i * 1.25, f"customer {i}", "2024-05-03T12:34:56Z"]


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_many_rows_stream_in_flat_memory(export_format):
    peak, pulled_at_chunk, total = stream_many(export_format, BIG_COLS, big_row)
    assert peak < MEMORY_BOUND
    assert total > 11_000_000
    # The header goes out before the first row is read, then chunks of ~64 KiB follow as rows arrive.
    assert pulled_at_chunk[0] == 0
    assert 0 < pulled_at_chunk[1] < 5_000
    assert pulled_at_chunk[1] < pulled_at_chunk[2] < 10_000


def test_many_rows_to_xlsx_in_flat_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    peak, pulled_at_chunk, total = stream_many("xlsx", BIG_COLS[:3:2], lambda i: [i, f"c{i}"])
    assert peak < MEMORY_BOUND
    # A zip archive only exists once complete: the first byte comes after the last row.
    assert pulled_at_chunk[0] == MANY
    assert total > 1_000_000
    assert list(Path(tmp_path).iterdir()) == []


def test_xlsx_of_many_rows_is_a_valid_workbook():
    body = download("xlsx", rows=[big_row(i) for i in range(1000)], cols=BIG_COLS)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    sheet = read_xlsx(body)["Query result"]
    assert sheet.max_row == 1001
    assert [cell.value for cell in sheet[1001]] == [
        999,
        1248.75,
        "customer 999",
        dt.datetime(2024, 5, 3, 12, 34, 56),
    ]
