"""The Sample Database file: querybase's generated data, and the build from Metabase's CSV export that
proves the schema reproduces Metabase's published figures."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from querybase import sample_database as sd

CSV_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "sample-database"

# Column names and declared types, in H2's order (from the export's README).
EXPECTED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "PEOPLE": [
        ("ID", "BIGINT"),
        ("ADDRESS", "VARCHAR(255)"),
        ("EMAIL", "VARCHAR(255)"),
        ("PASSWORD", "VARCHAR(255)"),
        ("NAME", "VARCHAR(255)"),
        ("CITY", "VARCHAR(255)"),
        ("LONGITUDE", "DOUBLE"),
        ("STATE", "CHAR(2)"),
        ("SOURCE", "VARCHAR(255)"),
        ("BIRTH_DATE", "DATE"),
        ("ZIP", "CHAR(5)"),
        ("LATITUDE", "DOUBLE"),
        ("CREATED_AT", "TIMESTAMP"),
    ],
    "ORDERS": [
        ("ID", "BIGINT"),
        ("USER_ID", "INTEGER"),
        ("PRODUCT_ID", "INTEGER"),
        ("SUBTOTAL", "DOUBLE"),
        ("TAX", "DOUBLE"),
        ("TOTAL", "DOUBLE"),
        ("DISCOUNT", "DOUBLE"),
        ("CREATED_AT", "TIMESTAMP"),
        ("QUANTITY", "INTEGER"),
    ],
    "PRODUCTS": [
        ("ID", "BIGINT"),
        ("EAN", "CHAR(13)"),
        ("TITLE", "VARCHAR(255)"),
        ("CATEGORY", "VARCHAR(255)"),
        ("VENDOR", "VARCHAR(255)"),
        ("PRICE", "DOUBLE"),
        ("RATING", "DOUBLE"),
        ("CREATED_AT", "TIMESTAMP"),
    ],
    "REVIEWS": [
        ("ID", "BIGINT"),
        ("PRODUCT_ID", "INTEGER"),
        ("REVIEWER", "VARCHAR(255)"),
        ("RATING", "SMALLINT"),
        ("BODY", "VARCHAR(1000000000)"),
        ("CREATED_AT", "TIMESTAMP"),
    ],
    "ACCOUNTS": [
        ("ID", "BIGINT"),
        ("EMAIL", "VARCHAR(255)"),
        ("FIRST_NAME", "VARCHAR(255)"),
        ("LAST_NAME", "VARCHAR(255)"),
        ("PLAN", "VARCHAR(255)"),
        ("SOURCE", "VARCHAR(255)"),
        ("SEATS", "INTEGER"),
        ("CREATED_AT", "TIMESTAMP"),
        ("TRIAL_ENDS_AT", "TIMESTAMP"),
        ("CANCELED_AT", "TIMESTAMP"),
        ("TRIAL_CONVERTED", "BOOLEAN"),
        ("ACTIVE_SUBSCRIPTION", "BOOLEAN"),
        ("LEGACY_PLAN", "BOOLEAN"),
        ("LATITUDE", "DOUBLE"),
        ("LONGITUDE", "DOUBLE"),
        ("COUNTRY", "CHAR(2)"),
    ],
    "ANALYTIC_EVENTS": [
        ("ID", "BIGINT"),
        ("ACCOUNT_ID", "BIGINT"),
        ("EVENT", "VARCHAR(255)"),
        ("TIMESTAMP", "TIMESTAMP"),
        ("PAGE_URL", "VARCHAR(255)"),
        ("BUTTON_LABEL", "VARCHAR(255)"),
    ],
    "FEEDBACK": [
        ("ID", "BIGINT"),
        ("ACCOUNT_ID", "BIGINT"),
        ("EMAIL", "VARCHAR(255)"),
        ("DATE_RECEIVED", "TIMESTAMP"),
        ("RATING", "SMALLINT"),
        ("RATING_MAPPED", "VARCHAR(255)"),
        ("BODY", "CLOB"),
    ],
    "INVOICES": [
        ("ID", "BIGINT"),
        ("ACCOUNT_ID", "BIGINT"),
        ("PAYMENT", "DOUBLE"),
        ("EXPECTED_INVOICE", "BOOLEAN"),
        ("PLAN", "VARCHAR(255)"),
        ("DATE_RECEIVED", "TIMESTAMP"),
    ],
}

# (table, column, referenced table, referenced column)
EXPECTED_FKS = {
    ("ORDERS", "USER_ID", "PEOPLE", "ID"),
    ("ORDERS", "PRODUCT_ID", "PRODUCTS", "ID"),
    ("REVIEWS", "PRODUCT_ID", "PRODUCTS", "ID"),
    ("ANALYTIC_EVENTS", "ACCOUNT_ID", "ACCOUNTS", "ID"),
    ("FEEDBACK", "ACCOUNT_ID", "ACCOUNTS", "ID"),
    ("INVOICES", "ACCOUNT_ID", "ACCOUNTS", "ID"),
}

EXPECTED_COUNTS = {
    "PEOPLE": 2500,
    "ORDERS": 18760,
    "PRODUCTS": 200,
    "REVIEWS": 1112,
    "ACCOUNTS": 2495,
    "ANALYTIC_EVENTS": 37169,
    "FEEDBACK": 642,
    "INVOICES": 13856,
}

TUTORIAL_QUERY = """
SELECT p.CATEGORY, AVG(o.SUBTOTAL) FROM ORDERS o JOIN PRODUCTS p ON o.PRODUCT_ID = p.ID
WHERE o.SUBTOTAL > 100 GROUP BY p.CATEGORY ORDER BY p.CATEGORY
"""
TUTORIAL_RESULT = [
    ("Doohickey", 114.679742),
    ("Gadget", 123.530916),
    ("Gizmo", 120.897286),
    ("Widget", 122.078721),
]

TOTAL_IS_OFF = "ABS(TOTAL - (SUBTOTAL + TAX - COALESCE(DISCOUNT, 0))) > 1e-9"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")

# sha256 of every generated row with the default seed. If the generator's output changes on purpose, bump
# sample_database.GENERATED_VERSION (so existing files are rebuilt) and update this digest.
DEFAULT_SEED_DIGEST = "c39f69da8048ae4fe1364a68dd87821cc8285d120db89102b4d053adcf27ad1b"


def connect(path: Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(path))


def scalar(conn: sqlite3.Connection, sql: str) -> object:
    return conn.execute(sql).fetchone()[0]


def digest(path: Path) -> str:
    """sha256 over every row of every table, in ID order: equal digests mean equal table contents."""
    h = hashlib.sha256()
    with connect(path) as conn:
        for table in [*EXPECTED_COUNTS, "_METABASE_METADATA"]:
            order = "KEYPATH" if table == "_METABASE_METADATA" else "ID"
            h.update(table.encode())
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
                h.update(repr(row).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    sd.generate(path)
    return path


@pytest.fixture(scope="module")
def from_csv(tmp_path_factory) -> Path:
    if not (CSV_DIR / "ORDERS.csv").is_file():
        pytest.skip(f"Metabase's sample CSV export is not at {CSV_DIR} (it is kept outside the project)")
    path = tmp_path_factory.mktemp("sample-csv") / "sample.db"
    sd.build_from_csv(CSV_DIR, path)
    return path


def check_schema(path: Path) -> None:
    with connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {*EXPECTED_COLUMNS, "_METABASE_METADATA"}
        fks = set()
        for table, expected in EXPECTED_COLUMNS.items():
            info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
            assert [(name, declared) for _, name, declared, *_ in info] == expected, table
            assert [name for _, name, _, _, _, pk in info if pk] == ["ID"], table
            fks |= {(table, r[3], r[2], r[4]) for r in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
        assert fks == EXPECTED_FKS
        metadata = conn.execute('PRAGMA table_info("_METABASE_METADATA")').fetchall()
        assert [(name, declared) for _, name, declared, *_ in metadata] == [
            ("KEYPATH", "VARCHAR"),
            ("VALUE", "VARCHAR"),
        ]


def row_counts(path: Path) -> dict[str, int]:
    with connect(path) as conn:
        return {table: int(scalar(conn, f'SELECT COUNT(*) FROM "{table}"')) for table in EXPECTED_COUNTS}


def expected_storage_classes() -> dict[str, str]:
    kinds = {
        "BIGINT": "integer",
        "INTEGER": "integer",
        "SMALLINT": "integer",
        "BOOLEAN": "integer",
        "DOUBLE": "real",
    }
    return {
        f"{table}.{name}": kinds.get(declared, "text")
        for table, columns in EXPECTED_COLUMNS.items()
        for name, declared in columns
    }


def storage_classes(path: Path) -> dict[str, str]:
    """SQLite's storage class of each column's non-NULL values (comma-separated if mixed)."""
    with connect(path) as conn:
        return {
            f"{table}.{name}": scalar(
                conn,
                f'SELECT GROUP_CONCAT(DISTINCT typeof("{name}")) FROM "{table}" WHERE "{name}" IS NOT NULL',
            )
            for table, columns in EXPECTED_COLUMNS.items()
            for name, _ in columns
        }


# --- the generated database ------------------------------------------------------------------------------


def test_generated_schema_matches_metabase_columns_types_and_keys(generated):
    check_schema(generated)


def test_generated_row_counts_are_metabases(generated):
    assert row_counts(generated) == EXPECTED_COUNTS


def test_generated_rows_violate_no_foreign_key(generated):
    with connect(generated) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert scalar(conn, "SELECT COUNT(*) FROM ORDERS WHERE USER_ID IS NULL OR PRODUCT_ID IS NULL") == 0


def test_generation_is_deterministic_for_a_seed(generated, tmp_path):
    again, other = tmp_path / "again.db", tmp_path / "other.db"
    sd.generate(again)
    sd.generate(other, seed=7)
    assert digest(again) == digest(generated)
    assert digest(other) != digest(generated)


def test_default_seed_gives_the_same_rows_on_every_machine(generated):
    assert digest(generated) == DEFAULT_SEED_DIGEST


def test_generation_is_fast(tmp_path):
    started = time.perf_counter()
    sd.generate(tmp_path / "timed.db")
    assert time.perf_counter() - started < 10


def test_order_total_is_subtotal_plus_tax_minus_discount(generated):
    with connect(generated) as conn:
        assert scalar(conn, f"SELECT COUNT(*) FROM ORDERS WHERE {TOTAL_IS_OFF}") == 0
        with_discount = scalar(conn, "SELECT COUNT(DISCOUNT) FROM ORDERS")
        assert 0 < with_discount < 18760 / 2  # mostly NULL
        assert scalar(conn, "SELECT COUNT(*) FROM ORDERS WHERE DISCOUNT <= 0 OR DISCOUNT >= SUBTOTAL") == 0


def test_orders_come_after_customer_and_product_within_metabases_range(generated):
    with connect(generated) as conn:
        first, last = conn.execute("SELECT MIN(CREATED_AT), MAX(CREATED_AT) FROM ORDERS").fetchone()
        assert "2022-04-30" <= first <= last < "2026-04-20"
        before = """
            SELECT COUNT(*) FROM ORDERS o
            JOIN PEOPLE p ON p.ID = o.USER_ID JOIN PRODUCTS pr ON pr.ID = o.PRODUCT_ID
            WHERE o.CREATED_AT < p.CREATED_AT OR o.CREATED_AT < pr.CREATED_AT
        """
        assert scalar(conn, before) == 0


def test_generated_values_are_plausible(generated):
    with connect(generated) as conn:
        values = {
            "categories": "SELECT GROUP_CONCAT(c) FROM (SELECT DISTINCT CATEGORY c FROM PRODUCTS ORDER BY c)",
            "plans": "SELECT GROUP_CONCAT(p) FROM (SELECT DISTINCT PLAN p FROM ACCOUNTS ORDER BY p)",
            "invoice plans": "SELECT GROUP_CONCAT(p) FROM (SELECT DISTINCT PLAN p FROM INVOICES ORDER BY p)",
            "sources": "SELECT GROUP_CONCAT(s) FROM (SELECT DISTINCT SOURCE s FROM ACCOUNTS ORDER BY s)",
            "null sources": "SELECT COUNT(*) > 0 FROM ACCOUNTS WHERE SOURCE IS NULL",
            "events": "SELECT GROUP_CONCAT(e) FROM (SELECT DISTINCT EVENT e FROM ANALYTIC_EVENTS ORDER BY e)",
            "pages": "SELECT GROUP_CONCAT(u) FROM "
            "(SELECT DISTINCT PAGE_URL u FROM ANALYTIC_EVENTS ORDER BY u)",
            "page or button": "SELECT COUNT(*) FROM ANALYTIC_EVENTS "
            "WHERE (PAGE_URL IS NULL) = (BUTTON_LABEL IS NULL)",
            "ratings mapped": "SELECT GROUP_CONCAT(m, '|') FROM "
            "(SELECT DISTINCT RATING || ' ' || RATING_MAPPED m FROM FEEDBACK ORDER BY RATING)",
            "review ratings": "SELECT MIN(RATING) || '-' || MAX(RATING) FROM REVIEWS",
            "prices in range": "SELECT MIN(PRICE) >= 15 AND MAX(PRICE) <= 100 FROM PRODUCTS",
            "ratings on 0.1 grid": "SELECT COUNT(*) FROM PRODUCTS "
            "WHERE RATING < 0 OR RATING > 5 OR RATING != ROUND(RATING, 1)",
            "bad EANs": "SELECT COUNT(*) FROM PRODUCTS WHERE LENGTH(EAN) != 13 OR EAN GLOB '*[^0-9]*'",
            "distinct EANs": "SELECT COUNT(DISTINCT EAN) FROM PRODUCTS",
            "bad ZIPs": "SELECT COUNT(*) FROM PEOPLE WHERE LENGTH(ZIP) != 5 OR ZIP GLOB '*[^0-9]*'",
            "bad states": "SELECT COUNT(*) FROM PEOPLE WHERE STATE NOT GLOB '[A-Z][A-Z]'",
            "outside the US": "SELECT COUNT(*) FROM PEOPLE "
            "WHERE LATITUDE NOT BETWEEN 18 AND 72 OR LONGITUDE NOT BETWEEN -170 AND -66",
            "bad emails": "SELECT COUNT(*) FROM PEOPLE WHERE EMAIL NOT LIKE '_%@_%._%'",
            "distinct account emails": "SELECT COUNT(DISTINCT EMAIL) FROM ACCOUNTS",
            "active means not canceled": "SELECT COUNT(*) FROM ACCOUNTS "
            "WHERE ACTIVE_SUBSCRIPTION != (CANCELED_AT IS NULL)",
            "booleans": "SELECT COUNT(*) FROM ACCOUNTS WHERE TRIAL_CONVERTED NOT IN (0, 1) "
            "OR ACTIVE_SUBSCRIPTION NOT IN (0, 1) OR LEGACY_PLAN NOT IN (0, 1)",
            "feedback email is the account's": "SELECT COUNT(*) FROM FEEDBACK f JOIN ACCOUNTS a "
            "ON a.ID = f.ACCOUNT_ID WHERE f.EMAIL != a.EMAIL",
            "invoices while open": "SELECT COUNT(*) FROM INVOICES i JOIN ACCOUNTS a ON a.ID = i.ACCOUNT_ID "
            "WHERE i.DATE_RECEIVED < a.CREATED_AT "
            "OR i.DATE_RECEIVED > COALESCE(a.CANCELED_AT, '9999-12-31T00:00:00.000')",
        }
        got = {name: scalar(conn, sql) for name, sql in values.items()}
    assert got == {
        "categories": "Doohickey,Gadget,Gizmo,Widget",
        "plans": "Basic,Business,Premium",
        "invoice plans": "Basic,Business,Premium",
        "sources": "Facebook,Google,Invite,Twitter",
        "null sources": 1,
        "events": "Button Clicked,Page Viewed",
        "pages": ",".join(f"www.piespace.example/{p}" for p in ("help", "home", "invite", "login", "pies")),
        "page or button": 0,
        "ratings mapped": "1 Poor|2 Below Average|3 Average|4 Good|5 Great",
        "review ratings": "1-5",
        "prices in range": 1,
        "ratings on 0.1 grid": 0,
        "bad EANs": 0,
        "distinct EANs": 200,
        "bad ZIPs": 0,
        "bad states": 0,
        "outside the US": 0,
        "bad emails": 0,
        "distinct account emails": 2495,
        "active means not canceled": 0,
        "booleans": 0,
        "feedback email is the account's": 0,
        "invoices while open": 0,
    }


def test_generated_values_have_the_storage_classes_of_their_types(generated):
    """Integers and booleans are INTEGER, doubles REAL; dates, timestamps and fixed-length codes stay text."""
    assert storage_classes(generated) == expected_storage_classes()
    with connect(generated) as conn:
        assert scalar(conn, "SELECT COUNT(*) FROM PEOPLE WHERE ZIP LIKE '0%'") > 0
        stamps = conn.execute("SELECT CREATED_AT FROM ORDERS UNION ALL SELECT TIMESTAMP FROM ANALYTIC_EVENTS")
        assert all(TIMESTAMP.match(s) for (s,) in stamps)
        assert all(
            re.match(r"^\d{4}-\d\d-\d\d$", d) for (d,) in conn.execute("SELECT BIRTH_DATE FROM PEOPLE")
        )


def test_generated_metadata_sets_zip_and_review_body_semantic_types(generated):
    with connect(generated) as conn:
        rows = dict(conn.execute("SELECT KEYPATH, VALUE FROM _METABASE_METADATA").fetchall())
    assert rows["PEOPLE.ZIP.semantic_type"] == "type/ZipCode"
    assert rows["REVIEWS.BODY.semantic_type"] == "type/Description"
    assert {key.split(".")[0] for key in rows if key.endswith(".description") and key.count(".") == 1} == set(
        EXPECTED_COUNTS
    )


# --- ensure_sample_file ----------------------------------------------------------------------------------


def test_ensure_builds_a_missing_file_once(tmp_path):
    target = tmp_path / "plugins" / "sample-database.db"
    assert sd.ensure_sample_file(target, None) == target
    assert row_counts(target) == EXPECTED_COUNTS
    inode = os.stat(target).st_ino
    assert sd.ensure_sample_file(target, None) == target
    assert os.stat(target).st_ino == inode  # not rebuilt
    assert [p.name for p in target.parent.iterdir()] == ["sample-database.db"]


def test_ensure_replaces_an_unreadable_file(tmp_path):
    target = tmp_path / "sample-database.db"
    target.write_bytes(b"not a database")
    sd.ensure_sample_file(target, None)
    assert row_counts(target) == EXPECTED_COUNTS


def test_ensure_is_safe_when_two_processes_build_at_once(tmp_path):
    target = tmp_path / "sample-database.db"
    code = (
        "import sys; from pathlib import Path; from querybase.sample_database import ensure_sample_file; "
        "ensure_sample_file(Path(sys.argv[1]), None)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(target)]) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    check_schema(target)
    assert row_counts(target) == EXPECTED_COUNTS
    assert [p.name for p in tmp_path.iterdir()] == ["sample-database.db"]


def test_ensure_rebuilds_a_generated_file_from_csv_when_asked(tmp_path, from_csv):
    target = tmp_path / "sample-database.db"
    sd.ensure_sample_file(target, None)
    sd.ensure_sample_file(target, CSV_DIR)
    assert digest(target) == digest(from_csv)


# --- built from Metabase's CSV export --------------------------------------------------------------------


def test_csv_build_has_the_schema_and_readme_row_counts(from_csv):
    check_schema(from_csv)
    assert row_counts(from_csv) == EXPECTED_COUNTS
    with connect(from_csv) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert scalar(conn, "SELECT COUNT(*) FROM _METABASE_METADATA") == 65


def test_csv_build_reproduces_the_tutorial_numbers(from_csv):
    with connect(from_csv) as conn:
        rows = conn.execute(TUTORIAL_QUERY).fetchall()
    assert [(category, round(avg, 6)) for category, avg in rows] == TUTORIAL_RESULT


def test_csv_build_keeps_nulls_and_carriage_returns(from_csv):
    with connect(from_csv) as conn:
        assert scalar(conn, "SELECT COUNT(DISCOUNT) FROM ORDERS") == 1915
        assert scalar(conn, "SELECT COUNT(*) FROM ACCOUNTS WHERE SOURCE IS NULL") == 835
        assert scalar(conn, "SELECT COUNT(*) FROM ANALYTIC_EVENTS WHERE PAGE_URL IS NULL") == 5184
        assert scalar(conn, "SELECT COUNT(*) FROM FEEDBACK WHERE BODY LIKE '%' || char(13)") == 133
        assert scalar(conn, "SELECT COUNT(*) FROM FEEDBACK WHERE INSTR(BODY, char(13)) > 0") == 161
        assert scalar(conn, f"SELECT COUNT(*) FROM ORDERS WHERE {TOTAL_IS_OFF}") == 0


def csv_text(value: object, declared: str) -> str:
    """A stored value written back the way the export writes it."""
    if value is None:
        return ""
    if declared == "BOOLEAN":
        return {1: "true", 0: "false"}[value]
    return repr(value) if isinstance(value, float) else str(value)


def csv_rows(name: str) -> Iterator[list[str]]:
    with (CSV_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        yield from csv.reader(f)


def test_csv_build_stores_every_value_exactly(from_csv):
    """Writing every stored row back out gives the export's text: doubles are the exact doubles, booleans,
    timestamps, fixed-length codes with leading zeros and empty-means-NULL all survive."""
    with connect(from_csv) as conn:
        for table, columns in [
            *EXPECTED_COLUMNS.items(),
            ("_METABASE_METADATA", [("KEYPATH", ""), ("VALUE", "")]),
        ]:
            order = "KEYPATH" if table == "_METABASE_METADATA" else "ID"
            stored = conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}')
            written = [
                [csv_text(v, declared) for v, (_, declared) in zip(row, columns, strict=True)]
                for row in stored
            ]
            header, *rows = csv_rows(table)
            assert header == [name for name, _ in columns]
            assert written == rows, table
    assert storage_classes(from_csv) == expected_storage_classes()


def test_csv_build_rejects_a_different_layout_and_leaves_nothing_behind(tmp_path):
    source = tmp_path / "csv"
    source.mkdir()
    (source / "PEOPLE.csv").write_text("ID,NAME\n1,Someone\n", encoding="utf-8")
    target = tmp_path / "out" / "sample.db"
    with pytest.raises(ValueError, match=r"PEOPLE\.csv: expected the columns ID, ADDRESS, EMAIL"):
        sd.build_from_csv(source, target)
    assert list(target.parent.iterdir()) == []
