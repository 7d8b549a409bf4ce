"""The Sample Database: a made-up shop and a made-up SaaS company in one SQLite file.

Metabase ships a sample H2 database inside its jar. Its rows are Metabase's data, so querybase does not
redistribute them. Instead, `generate` writes querybase's own rows into the same eight tables, with the same
columns, declared types, keys and row counts. The rows come from a fixed seed and word lists written for
querybase, so every instance gets the same realistic data without any network access.

To check querybase against the figures Metabase publishes for its sample data, `build_from_csv` loads a folder
of CSV files exported from Metabase's file (kept outside the project) into the same schema.

The declared SQL types follow H2's (BIGINT, INTEGER, SMALLINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, CHAR(n),
VARCHAR, CLOB) so that the SQLite driver maps every column to the base type Metabase reports for the H2 file.
SQLite stores timestamps as `YYYY-MM-DDTHH:MM:SS.mmm` text, dates as `YYYY-MM-DD` and booleans as 1/0.

Determinism: the generator uses only `random.Random` draws, exact float arithmetic and `round` (never libm
functions such as `math.log` or `random.gauss`, whose last bit can differ between C libraries), and nothing
that depends on hash ordering, locale or the clock. The same seed gives the same rows on every machine.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from querybase.models.database import Database
from querybase.models.database import Table as TableRow
from querybase.permissions.data import set_new_database_permissions
from querybase.sync.classify import entity_type, humanize

if TYPE_CHECKING:
    from querybase.config import Config

_Row = tuple[object, ...]

# --- Schema ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column, with the declared SQL type that makes the SQLite driver report H2's base type."""

    name: str
    sql_type: str


@dataclass(frozen=True)
class ForeignKey:
    """A real FOREIGN KEY constraint, so that sync marks the column as type/FK."""

    column: str
    target_table: str
    target_column: str = "ID"

    def constraint_name(self, table: str) -> str:
        """H2's naming of the sample's FK constraints: FK_<table>_<column>_<target>."""
        return f"FK_{table}_{self.column}_{self.target_table}"


@dataclass(frozen=True)
class Table:
    """A table of the Sample Database: columns in H2's order, primary key, foreign keys."""

    name: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    primary_key: str | None = "ID"

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names in order: the header of the table's CSV file."""
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        """CREATE TABLE statement; the primary key is NOT NULL because SQLite would otherwise allow NULLs."""
        parts = [
            f'"{c.name}" {c.sql_type}{" NOT NULL" if c.name == self.primary_key else ""}'
            for c in self.columns
        ]
        if self.primary_key:
            parts.append(f'CONSTRAINT "PK_{self.name}" PRIMARY KEY ("{self.primary_key}")')
        parts += [
            f'CONSTRAINT "{fk.constraint_name(self.name)}" FOREIGN KEY ("{fk.column}") '
            f'REFERENCES "{fk.target_table}" ("{fk.target_column}")'
            for fk in self.foreign_keys
        ]
        return f'CREATE TABLE "{self.name}" (\n  ' + ",\n  ".join(parts) + "\n)"


def _table(name: str, columns: str, *foreign_keys: ForeignKey) -> Table:
    """Table from a compact "NAME TYPE, NAME TYPE" list, which reads like the H2 schema it copies."""
    cols = tuple(Column(*spec.split(maxsplit=1)) for spec in columns.split(", "))
    return Table(name, cols, foreign_keys)


_V = "VARCHAR(255)"

SCHEMA: tuple[Table, ...] = (
    _table(
        "PEOPLE",
        f"ID BIGINT, ADDRESS {_V}, EMAIL {_V}, PASSWORD {_V}, NAME {_V}, CITY {_V}, LONGITUDE DOUBLE, "
        f"STATE CHAR(2), SOURCE {_V}, BIRTH_DATE DATE, ZIP CHAR(5), LATITUDE DOUBLE, CREATED_AT TIMESTAMP",
    ),
    _table(
        "ORDERS",
        "ID BIGINT, USER_ID INTEGER, PRODUCT_ID INTEGER, SUBTOTAL DOUBLE, TAX DOUBLE, TOTAL DOUBLE, "
        "DISCOUNT DOUBLE, CREATED_AT TIMESTAMP, QUANTITY INTEGER",
        ForeignKey("USER_ID", "PEOPLE"),
        ForeignKey("PRODUCT_ID", "PRODUCTS"),
    ),
    _table(
        "PRODUCTS",
        f"ID BIGINT, EAN CHAR(13), TITLE {_V}, CATEGORY {_V}, VENDOR {_V}, PRICE DOUBLE, RATING DOUBLE, "
        "CREATED_AT TIMESTAMP",
    ),
    _table(
        "REVIEWS",
        # H2 declares BODY as VARCHAR(1000000000): long free text, still type/Text.
        f"ID BIGINT, PRODUCT_ID INTEGER, REVIEWER {_V}, RATING SMALLINT, BODY VARCHAR(1000000000), "
        "CREATED_AT TIMESTAMP",
        ForeignKey("PRODUCT_ID", "PRODUCTS"),
    ),
    _table(
        "ACCOUNTS",
        f"ID BIGINT, EMAIL {_V}, FIRST_NAME {_V}, LAST_NAME {_V}, PLAN {_V}, SOURCE {_V}, SEATS INTEGER, "
        "CREATED_AT TIMESTAMP, TRIAL_ENDS_AT TIMESTAMP, CANCELED_AT TIMESTAMP, TRIAL_CONVERTED BOOLEAN, "
        "ACTIVE_SUBSCRIPTION BOOLEAN, LEGACY_PLAN BOOLEAN, LATITUDE DOUBLE, LONGITUDE DOUBLE, "
        "COUNTRY CHAR(2)",
    ),
    _table(
        "ANALYTIC_EVENTS",
        f"ID BIGINT, ACCOUNT_ID BIGINT, EVENT {_V}, TIMESTAMP TIMESTAMP, PAGE_URL {_V}, BUTTON_LABEL {_V}",
        ForeignKey("ACCOUNT_ID", "ACCOUNTS"),
    ),
    _table(
        "FEEDBACK",
        f"ID BIGINT, ACCOUNT_ID BIGINT, EMAIL {_V}, DATE_RECEIVED TIMESTAMP, RATING SMALLINT, "
        f"RATING_MAPPED {_V}, BODY CLOB",
        ForeignKey("ACCOUNT_ID", "ACCOUNTS"),
    ),
    _table(
        "INVOICES",
        f"ID BIGINT, ACCOUNT_ID BIGINT, PAYMENT DOUBLE, EXPECTED_INVOICE BOOLEAN, PLAN {_V}, "
        "DATE_RECEIVED TIMESTAMP",
        ForeignKey("ACCOUNT_ID", "ACCOUNTS"),
    ),
)

# Key/value descriptions that sync copies into table and field metadata (Metabase hides this table).
METADATA_TABLE = Table(
    "_METABASE_METADATA", (Column("KEYPATH", "VARCHAR"), Column("VALUE", "VARCHAR")), primary_key=None
)

# Metabase's row counts, which the generated database has too.
ROW_COUNTS: dict[str, int] = {
    "PEOPLE": 2500,
    "ORDERS": 18760,
    "PRODUCTS": 200,
    "REVIEWS": 1112,
    "ACCOUNTS": 2495,
    "ANALYTIC_EVENTS": 37169,
    "FEEDBACK": 642,
    "INVOICES": 13856,
}

# PRAGMA user_version of a finished file: says which source built it, so ensure_sample_file rebuilds a file
# built from the other source. Bump GENERATED_VERSION whenever the generator's output changes.
GENERATED_VERSION = 1
CSV_VERSION = 1_000_000

# --- Writing the file ------------------------------------------------------------------------------------


def _write_atomically(target: Path, fill: Callable[[sqlite3.Connection], None], version: int) -> None:
    """Build into a temp file next to `target`, then rename it over `target`: readers and a concurrent builder
    only ever see a complete file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            # No journal and no syncs while building: a crash leaves only the temp file, which is discarded.
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            for table in (*SCHEMA, METADATA_TABLE):
                conn.execute(table.ddl())
            fill(conn)
            conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.commit()
        finally:
            conn.close()
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp makes it private; the file holds nothing secret
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _insert(conn: sqlite3.Connection, table: Table, rows: Iterable[Sequence[object]]) -> None:
    columns = ", ".join(f'"{name}"' for name in table.column_names)
    marks = ", ".join("?" * len(table.columns))
    conn.executemany(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', rows)


# --- Building from Metabase's CSV export -----------------------------------------------------------------


def _parse_bool(text: str) -> int:
    if text == "true":
        return 1
    if text == "false":
        return 0
    raise ValueError(f"not a boolean: {text!r}")


def _parser(sql_type: str) -> Callable[[str], object]:
    """CSV text to the stored value; float(text) gives back the exact double that H2 stored."""
    base = sql_type.split("(")[0]
    if base in ("BIGINT", "INTEGER", "SMALLINT"):
        return int
    if base == "DOUBLE":
        return float
    if base == "BOOLEAN":
        return _parse_bool
    return str  # text, and dates/timestamps kept in the CSV's ISO form


def _csv_rows(path: Path, table: Table) -> Iterator[_Row]:
    """Typed rows of one CSV file; newline="" keeps the carriage returns some FEEDBACK bodies end with."""
    parsers = [_parser(c.sql_type) for c in table.columns]
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != table.column_names:
            raise ValueError(f"{path}: expected the columns {', '.join(table.column_names)}; found {header}")
        for row in reader:
            try:
                # An empty field is NULL: the export has no empty strings.
                yield tuple(None if v == "" else p(v) for p, v in zip(parsers, row, strict=True))
            except ValueError as e:
                raise ValueError(f"{path}, line {reader.line_num}: {e}") from e


def build_from_csv(csv_dir: Path, target: Path) -> None:
    """Create the SQLite file `target` from a folder of CSV files in the layout of Metabase's sample export
    (one `<TABLE>.csv` per table, optional `_METABASE_METADATA.csv`)."""
    csv_dir = Path(csv_dir)

    def fill(conn: sqlite3.Connection) -> None:
        for table in SCHEMA:
            _insert(conn, table, _csv_rows(csv_dir / f"{table.name}.csv", table))
        metadata = csv_dir / f"{METADATA_TABLE.name}.csv"
        if metadata.exists():
            _insert(conn, METADATA_TABLE, _csv_rows(metadata, METADATA_TABLE))

    _write_atomically(Path(target), fill, CSV_VERSION)


# --- Generating querybase's own data ---------------------------------------------------------------------


def generate(target: Path, seed: int = 2024) -> None:
    """Create the SQLite file `target` with querybase's generated sample data (deterministic for a seed)."""
    tables = _generate_tables(seed)

    def fill(conn: sqlite3.Connection) -> None:
        for table in SCHEMA:
            _insert(conn, table, tables[table.name])
        _insert(conn, METADATA_TABLE, sorted(_GENERATED_METADATA.items()))

    _write_atomically(Path(target), fill, GENERATED_VERSION)


def _version_of(path: Path) -> int | None:
    """PRAGMA user_version of an existing SQLite file; None when there is no readable file."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None


def ensure_sample_file(target: Path, csv_dir: Path | None) -> Path:
    """Return `target`, building it first (from `csv_dir` when given, else generated) unless it is already a
    finished file from that source. Safe when several processes call it at once: each builds into its own temp
    file and renames it into place, and every build gives the same content."""
    target = Path(target)
    wanted = CSV_VERSION if csv_dir is not None else GENERATED_VERSION
    if _version_of(target) != wanted:
        if csv_dir is not None:
            build_from_csv(Path(csv_dir), target)
        else:
            generate(target)
    return target


_GENERATED_METADATA: dict[str, str] = {
    "PRODUCTS.description": "The sample shop's catalog: one row per product, with its category, vendor, "
    "price and average rating. Generated by querybase.",
    "ORDERS.description": "One row per order a customer of the sample shop placed for a product. "
    "Generated by querybase.",
    "ORDERS.SUBTOTAL.description": "Product price times quantity, before tax and discount.",
    "ORDERS.TAX.description": "Sales tax of the customer's state, rounded to cents.",
    "ORDERS.DISCOUNT.description": "Coupon amount taken off the order; empty when no coupon was used.",
    "ORDERS.TOTAL.description": "What the customer paid: subtotal plus tax minus discount.",
    "PEOPLE.description": "Customers of the sample shop, with where they live and how they found the shop. "
    "Generated by querybase.",
    "PEOPLE.ZIP.semantic_type": "type/ZipCode",
    "REVIEWS.description": "Product reviews written by the sample shop's customers. Generated by querybase.",
    "REVIEWS.BODY.semantic_type": "type/Description",
    "ACCOUNTS.description": "Organisations that signed up for Piespace, a made-up pie subscription service. "
    "Each starts with a two-week trial. Generated by querybase.",
    "ANALYTIC_EVENTS.description": "Page views and button clicks in the Piespace app, one row per event. "
    "Generated by querybase.",
    "FEEDBACK.description": "Ratings and comments that Piespace customers sent in. Generated by querybase.",
    "INVOICES.description": "Monthly payments received from Piespace accounts. Generated by querybase.",
}

# Word lists, written for querybase.
_FIRST_NAMES = """
Aaron Abigail Adam Adrian Aiden Alana Albert Alejandro Alexa Alice Alma Alvin Amelia Andre Angela Anika Annie
Arthur Ava Barbara Beatrice Benjamin Bernard Bianca Brandon Brenda Caleb Camila Carl Carmen Caroline Cecilia
Charles Chloe Clara Colin Connor Cora Daisy Damian Daniel Delia Dennis Diana Dominic Dora Douglas Edgar Edith
Eleanor Elias Eliza Emil Emma Eric Esther Ethan Eva Felix Fiona Floyd Frances Gabriel Gavin Gemma Gordon Grace
Hannah Harold Harvey Hazel Helen Henry Hugo Ian Ida Imani Irene Isaac Ivy Jack Jada Jasper Jenna Joel Jonah
Josephine Julian June Kara Keith Kendra Kevin Kira Laura Leah Leon Lila Lionel Lucas Lucy Luis Mabel Malcolm
Maria Martin Maya Miles Milo Mona Nadia Naomi Nathan Nell Nico Nina Noah Nora Oliver Olivia Oscar Paige Pearl
Peter Philip Priya Quinn Rachel Ramon Reed Rhea Rita Robert Rosa Ruby Ruth Samuel Sara Sean Selma Simon Sofia
Stella Tessa Theo Thomas Uma Vera Victor Viola Wade Walter Wendy Wesley Willa Xavier Yara Yusuf Zoe
""".split()
_LAST_NAMES = """
Abbott Adler Alvarez Ambrose Archer Atkins Bailey Baker Barlow Barnes Becker Bennett Bishop Blair Bowen Boyle
Bradley Brennan Brooks Burke Calloway Carver Chandler Chen Clarke Coleman Collins Conway Crane Dalton Dawson
Delgado Dixon Donovan Doyle Duarte Easton Ellis Emerson Farrell Fischer Fleming Flores Foster Fuller Garner
Gibson Goodwin Graham Griffin Hale Hammond Harper Hartman Hayes Hendricks Hobbs Holland Horton Hughes Ingram
Jensen Keller Kendall Kramer Lambert Larsen Lawson Lindqvist Lowe Maddox Marsh Mendez Mercer Monroe Morales
Nash Newton Nguyen Norris Novak Oakley Olsen Ortega Owens Palmer Parsons Patel Pearce Perkins Quinlan Ramirez
Reyes Rhodes Riley Rowe Russo Sandoval Santos Sawyer Schmidt Shah Shepherd Silva Sloan Spencer Stanton Sutton
Tanaka Tate Thornton Torres Tucker Vance Vaughn Wagner Walsh Warren Watts Webb Wheeler Whitaker Wolfe Yates
Young Zimmerman
""".split()
_EMAIL_DOMAINS = ("gmail.example", "yahoo.example", "hotmail.example", "outlook.example", "mail.example")
_STREET_NAMES = """
Oak Maple Cedar Pine Elm Birch Willow Aspen Chestnut Walnut Hickory Spruce Magnolia Laurel Juniper Main Church
Mill River Lake Hill Park Spring Meadow Valley Ridge Forest Sunset Highland Orchard Prairie Garden Harbor
Washington Lincoln Jefferson Madison Franklin Jackson Adams Monroe Grant Hamilton Union Liberty Railroad
Market
""".split()
_STREET_SUFFIXES = (
    "Street",
    "Avenue",
    "Road",
    "Lane",
    "Drive",
    "Court",
    "Boulevard",
    "Way",
    "Place",
    "Trail",
)
_DIRECTIONS = ("North", "South", "East", "West")
_ORDINALS = ("1st", "2nd", "3rd", *(f"{n}th" for n in range(4, 21)))

# (city, state, a ZIP code of the city, latitude, longitude): real places, rounded coordinates.
_US_CITIES: tuple[tuple[str, str, int, float, float], ...] = (
    ("Montgomery", "AL", 36104, 32.37, -86.30),
    ("Birmingham", "AL", 35203, 33.52, -86.80),
    ("Huntsville", "AL", 35801, 34.73, -86.59),
    ("Mobile", "AL", 36602, 30.69, -88.04),
    ("Juneau", "AK", 99801, 58.30, -134.42),
    ("Anchorage", "AK", 99501, 61.22, -149.90),
    ("Fairbanks", "AK", 99701, 64.84, -147.72),
    ("Phoenix", "AZ", 85004, 33.45, -112.07),
    ("Tucson", "AZ", 85701, 32.22, -110.97),
    ("Flagstaff", "AZ", 86001, 35.20, -111.65),
    ("Little Rock", "AR", 72201, 34.75, -92.29),
    ("Fayetteville", "AR", 72701, 36.06, -94.16),
    ("Sacramento", "CA", 95814, 38.58, -121.49),
    ("Los Angeles", "CA", 90012, 34.05, -118.24),
    ("San Francisco", "CA", 94102, 37.77, -122.42),
    ("San Diego", "CA", 92101, 32.72, -117.16),
    ("Fresno", "CA", 93721, 36.74, -119.79),
    ("Santa Barbara", "CA", 93101, 34.42, -119.70),
    ("Denver", "CO", 80202, 39.74, -104.99),
    ("Boulder", "CO", 80302, 40.01, -105.27),
    ("Colorado Springs", "CO", 80903, 38.83, -104.82),
    ("Hartford", "CT", 6103, 41.76, -72.68),
    ("New Haven", "CT", 6510, 41.31, -72.92),
    ("Dover", "DE", 19901, 39.16, -75.52),
    ("Wilmington", "DE", 19801, 39.74, -75.55),
    ("Tallahassee", "FL", 32301, 30.44, -84.28),
    ("Miami", "FL", 33130, 25.77, -80.19),
    ("Orlando", "FL", 32801, 28.54, -81.38),
    ("Tampa", "FL", 33602, 27.95, -82.46),
    ("Jacksonville", "FL", 32202, 30.33, -81.66),
    ("Atlanta", "GA", 30303, 33.75, -84.39),
    ("Savannah", "GA", 31401, 32.08, -81.09),
    ("Honolulu", "HI", 96813, 21.31, -157.86),
    ("Hilo", "HI", 96720, 19.72, -155.09),
    ("Boise", "ID", 83702, 43.62, -116.20),
    ("Idaho Falls", "ID", 83402, 43.49, -112.03),
    ("Springfield", "IL", 62701, 39.80, -89.64),
    ("Chicago", "IL", 60601, 41.88, -87.63),
    ("Indianapolis", "IN", 46204, 39.77, -86.16),
    ("Fort Wayne", "IN", 46802, 41.08, -85.14),
    ("Des Moines", "IA", 50309, 41.59, -93.62),
    ("Cedar Rapids", "IA", 52401, 41.98, -91.67),
    ("Iowa City", "IA", 52240, 41.66, -91.53),
    ("Topeka", "KS", 66603, 39.05, -95.68),
    ("Wichita", "KS", 67202, 37.69, -97.34),
    ("Lawrence", "KS", 66044, 38.97, -95.24),
    ("Frankfort", "KY", 40601, 38.20, -84.87),
    ("Louisville", "KY", 40202, 38.25, -85.76),
    ("Lexington", "KY", 40507, 38.04, -84.50),
    ("Baton Rouge", "LA", 70802, 30.45, -91.19),
    ("New Orleans", "LA", 70112, 29.95, -90.07),
    ("Shreveport", "LA", 71101, 32.53, -93.75),
    ("Augusta", "ME", 4330, 44.31, -69.78),
    ("Portland", "ME", 4101, 43.66, -70.26),
    ("Annapolis", "MD", 21401, 38.98, -76.49),
    ("Baltimore", "MD", 21202, 39.29, -76.61),
    ("Boston", "MA", 2108, 42.36, -71.06),
    ("Worcester", "MA", 1608, 42.26, -71.80),
    ("Lansing", "MI", 48933, 42.73, -84.56),
    ("Detroit", "MI", 48226, 42.33, -83.05),
    ("Grand Rapids", "MI", 49503, 42.96, -85.67),
    ("Ann Arbor", "MI", 48104, 42.28, -83.74),
    ("Saint Paul", "MN", 55102, 44.95, -93.09),
    ("Minneapolis", "MN", 55401, 44.98, -93.27),
    ("Duluth", "MN", 55802, 46.79, -92.10),
    ("Jackson", "MS", 39201, 32.30, -90.18),
    ("Gulfport", "MS", 39501, 30.37, -89.09),
    ("Jefferson City", "MO", 65101, 38.58, -92.17),
    ("Kansas City", "MO", 64105, 39.10, -94.58),
    ("Saint Louis", "MO", 63101, 38.63, -90.20),
    ("Springfield", "MO", 65806, 37.21, -93.29),
    ("Helena", "MT", 59601, 46.59, -112.04),
    ("Billings", "MT", 59101, 45.78, -108.50),
    ("Missoula", "MT", 59802, 46.87, -113.99),
    ("Lincoln", "NE", 68508, 40.81, -96.70),
    ("Omaha", "NE", 68102, 41.26, -95.93),
    ("Carson City", "NV", 89701, 39.16, -119.77),
    ("Las Vegas", "NV", 89101, 36.17, -115.14),
    ("Reno", "NV", 89501, 39.53, -119.81),
    ("Concord", "NH", 3301, 43.21, -71.54),
    ("Manchester", "NH", 3101, 42.99, -71.46),
    ("Trenton", "NJ", 8608, 40.22, -74.76),
    ("Newark", "NJ", 7102, 40.74, -74.17),
    ("Santa Fe", "NM", 87501, 35.69, -105.94),
    ("Albuquerque", "NM", 87102, 35.08, -106.65),
    ("Las Cruces", "NM", 88001, 32.31, -106.78),
    ("Albany", "NY", 12207, 42.65, -73.76),
    ("New York", "NY", 10007, 40.71, -74.01),
    ("Buffalo", "NY", 14202, 42.89, -78.88),
    ("Rochester", "NY", 14604, 43.16, -77.61),
    ("Syracuse", "NY", 13202, 43.05, -76.15),
    ("Raleigh", "NC", 27601, 35.78, -78.64),
    ("Charlotte", "NC", 28202, 35.23, -80.84),
    ("Durham", "NC", 27701, 35.99, -78.90),
    ("Bismarck", "ND", 58501, 46.81, -100.78),
    ("Fargo", "ND", 58102, 46.88, -96.79),
    ("Grand Forks", "ND", 58201, 47.93, -97.03),
    ("Columbus", "OH", 43215, 39.96, -83.00),
    ("Cleveland", "OH", 44113, 41.50, -81.69),
    ("Cincinnati", "OH", 45202, 39.10, -84.51),
    ("Toledo", "OH", 43604, 41.65, -83.54),
    ("Oklahoma City", "OK", 73102, 35.47, -97.52),
    ("Tulsa", "OK", 74103, 36.15, -95.99),
    ("Salem", "OR", 97301, 44.94, -123.04),
    ("Portland", "OR", 97204, 45.52, -122.68),
    ("Eugene", "OR", 97401, 44.05, -123.09),
    ("Harrisburg", "PA", 17101, 40.27, -76.88),
    ("Philadelphia", "PA", 19107, 39.95, -75.17),
    ("Pittsburgh", "PA", 15222, 40.44, -80.00),
    ("Erie", "PA", 16501, 42.13, -80.09),
    ("Providence", "RI", 2903, 41.82, -71.41),
    ("Columbia", "SC", 29201, 34.00, -81.03),
    ("Charleston", "SC", 29401, 32.78, -79.93),
    ("Pierre", "SD", 57501, 44.37, -100.35),
    ("Sioux Falls", "SD", 57104, 43.55, -96.73),
    ("Rapid City", "SD", 57701, 44.08, -103.23),
    ("Nashville", "TN", 37219, 36.16, -86.78),
    ("Memphis", "TN", 38103, 35.15, -90.05),
    ("Knoxville", "TN", 37902, 35.96, -83.92),
    ("Austin", "TX", 78701, 30.27, -97.74),
    ("Houston", "TX", 77002, 29.76, -95.37),
    ("Dallas", "TX", 75201, 32.78, -96.80),
    ("San Antonio", "TX", 78205, 29.42, -98.49),
    ("El Paso", "TX", 79901, 31.76, -106.49),
    ("Fort Worth", "TX", 76102, 32.76, -97.33),
    ("Lubbock", "TX", 79401, 33.58, -101.86),
    ("Salt Lake City", "UT", 84111, 40.76, -111.89),
    ("Provo", "UT", 84601, 40.23, -111.66),
    ("Montpelier", "VT", 5602, 44.26, -72.58),
    ("Burlington", "VT", 5401, 44.48, -73.21),
    ("Richmond", "VA", 23219, 37.54, -77.44),
    ("Norfolk", "VA", 23510, 36.85, -76.29),
    ("Olympia", "WA", 98501, 47.04, -122.90),
    ("Seattle", "WA", 98101, 47.61, -122.33),
    ("Spokane", "WA", 99201, 47.66, -117.43),
    ("Charleston", "WV", 25301, 38.35, -81.63),
    ("Huntington", "WV", 25701, 38.42, -82.45),
    ("Madison", "WI", 53703, 43.07, -89.40),
    ("Milwaukee", "WI", 53202, 43.04, -87.91),
    ("Green Bay", "WI", 54301, 44.51, -88.01),
    ("Cheyenne", "WY", 82001, 41.14, -104.82),
    ("Casper", "WY", 82601, 42.87, -106.31),
)

# Approximate statewide sales tax rates.
_STATE_TAX: dict[str, float] = {
    "AL": 0.04, "AK": 0.0, "AZ": 0.056, "AR": 0.065, "CA": 0.0725, "CO": 0.029, "CT": 0.0635, "DE": 0.0,
    "FL": 0.06, "GA": 0.04, "HI": 0.04, "ID": 0.06, "IL": 0.0625, "IN": 0.07, "IA": 0.06, "KS": 0.065,
    "KY": 0.06, "LA": 0.0445, "ME": 0.055, "MD": 0.06, "MA": 0.0625, "MI": 0.06, "MN": 0.06875, "MS": 0.07,
    "MO": 0.04225, "MT": 0.0, "NE": 0.055, "NV": 0.0685, "NH": 0.0, "NJ": 0.06625, "NM": 0.05125, "NY": 0.04,
    "NC": 0.0475, "ND": 0.05, "OH": 0.0575, "OK": 0.045, "OR": 0.0, "PA": 0.06, "RI": 0.07, "SC": 0.06,
    "SD": 0.045, "TN": 0.07, "TX": 0.0625, "UT": 0.061, "VT": 0.06, "VA": 0.053, "WA": 0.065, "WV": 0.06,
    "WI": 0.05, "WY": 0.04,
}  # fmt: skip

# (ISO code, latitude, longitude of the capital) for Piespace's customers outside the US.
_COUNTRIES: tuple[tuple[str, float, float], ...] = (
    ("CA", 45.42, -75.70), ("MX", 19.43, -99.13), ("BR", -15.79, -47.88), ("AR", -34.60, -58.38),
    ("CL", -33.45, -70.67), ("CO", 4.71, -74.07), ("PE", -12.05, -77.04), ("GB", 51.51, -0.13),
    ("IE", 53.35, -6.26), ("FR", 48.86, 2.35), ("DE", 52.52, 13.40), ("NL", 52.37, 4.90),
    ("BE", 50.85, 4.35), ("ES", 40.42, -3.70), ("PT", 38.72, -9.14), ("IT", 41.90, 12.50),
    ("CH", 46.95, 7.45), ("AT", 48.21, 16.37), ("SE", 59.33, 18.07), ("NO", 59.91, 10.75),
    ("DK", 55.68, 12.57), ("FI", 60.17, 24.94), ("PL", 52.23, 21.01), ("CZ", 50.08, 14.44),
    ("GR", 37.98, 23.73), ("TR", 39.93, 32.86), ("IL", 31.77, 35.21), ("EG", 30.04, 31.24),
    ("NG", 9.08, 7.40), ("KE", -1.29, 36.82), ("ZA", -25.75, 28.19), ("IN", 28.61, 77.21),
    ("PK", 33.68, 73.05), ("CN", 39.90, 116.40), ("JP", 35.68, 139.69), ("KR", 37.57, 126.98),
    ("SG", 1.35, 103.82), ("ID", -6.21, 106.85), ("PH", 14.60, 120.98), ("VN", 21.03, 105.85),
    ("TH", 13.76, 100.50), ("AU", -35.28, 149.13), ("NZ", -41.29, 174.78),
)  # fmt: skip

_CATEGORIES = ("Doohickey", "Gadget", "Gizmo", "Widget")
_PRODUCT_ADJECTIVES = """
Small Large Rustic Sleek Ergonomic Practical Intelligent Gorgeous Incredible Fantastic Awesome Enormous
Mediocre Synergistic Durable Lightweight Aerodynamic Heavy-Duty Compact Elegant Refined Modern Vintage
Handmade
""".split()
_PRODUCT_MATERIALS = """
Steel Wooden Concrete Plastic Cotton Granite Rubber Leather Silk Wool Linen Marble Iron Bronze Copper Aluminum
Paper Glass Ceramic Bamboo
""".split()
_PRODUCT_NOUNS = """
Chair Table Lamp Clock Watch Wallet Bag Hat Shoes Gloves Coat Shirt Pants Bottle Knife Plate Bowl Keyboard
Computer Bench Desk Mirror Umbrella Backpack Toaster Kettle Hammer Shovel
""".split()
_VENDOR_SUFFIXES = ("Inc", "LLC", "Group", "and Sons", "Co")

_LOREM = """
lorem ipsum dolor sit amet consectetur adipisci elit sed eius tempor incidunt labore dolore magna aliqua enim
minim veniam quis nostrum exercitationem ullam corporis suscipit laboriosam nisi aliquid commodi consequatur
autem vel eum iure reprehenderit voluptate velit esse quam nihil molestiae illum fugiat quo voluptas nulla
pariatur vero accusamus iusto odio dignissimos ducimus blanditiis praesentium deleniti atque corrupti quos
dolores quas molestias excepturi sint occaecati cupiditate provident similique mollitia animi est laborum
dolorum fuga harum rerum facilis expedita distinctio nam libero tempore soluta nobis eligendi optio cumque
""".split()

_PLANS = ("Basic", "Business", "Premium")
_PLAN_SEAT_PRICE = {"Basic": 9.0, "Business": 14.5, "Premium": 21.0}
_ACCOUNT_SOURCES = ("Facebook", "Google", "Invite", "Twitter", None)
_PAGES = tuple(f"www.piespace.example/{page}" for page in ("help", "home", "invite", "login", "pies"))
_BUTTONS = ("Checkout", "Create Item", "Invite", "Signup", "Subscribe")
_QUANTITIES = tuple(range(1, 11))
_QUANTITY_WEIGHTS = (45, 25, 13, 8, 5, 1, 1, 1, 0.5, 0.5)
_RATING_MAPPED = {1: "Poor", 2: "Below Average", 3: "Average", 4: "Good", 5: "Great"}

_PIES = """
apple|cherry|pecan|pumpkin|key lime|blueberry|peach|lemon meringue|banana cream|chicken pot|
strawberry rhubarb|sweet potato|chocolate silk|blackberry|mushroom and leek|coconut cream|pear and ginger|
steak and ale
""".replace("\n", "").split("|")
_FEEDBACK_OPENERS = (
    "We ordered the {pie} pie for a team lunch.",
    "Tried the {pie} pie for the first time last week.",
    "Our office gets the {pie} pie every Friday.",
    "I sent the {pie} pie to a client as a thank-you.",
    "The {pie} pie was the star of our quarterly review.",
    "Picked the {pie} pie from the seasonal menu.",
)
_FEEDBACK_BY_RATING: dict[int, tuple[str, ...]] = {
    1: (
        "It arrived two hours late and stone cold.",
        "The crust was soggy and the filling tasted {bad}.",
        "Half the order was missing and support never answered.",
        "Billing charged us for seats we had removed.",
    ),
    2: (
        "The filling was {bad} and the crust fell apart.",
        "Delivery took longer than the app promised.",
        "Ordering for a big team is still clumsy in the app.",
        "Portions were smaller than the photos suggest.",
    ),
    3: (
        "It was fine, nothing special.",
        "Good filling, but the crust could be flakier.",
        "Delivery was on time, the box was a bit crushed.",
        "Decent value for the price.",
    ),
    4: (
        "Flaky crust and a {good} filling.",
        "Arrived warm and on time.",
        "The team finished it in ten minutes.",
        "Inviting colleagues to the account was easy.",
    ),
    5: (
        "Flaky crust, {good} filling, and it arrived warm.",
        "Everyone asked where we got it.",
        "Best pie subscription we have tried, by far.",
        "Scheduling repeat deliveries saves me an hour every week.",
    ),
}
_FEEDBACK_BAD = ("bland", "overly sweet", "burnt", "watery", "stale")
_FEEDBACK_GOOD = ("rich", "tangy", "perfectly spiced", "buttery", "fresh", "generous")
_FEEDBACK_CLOSERS = (
    "Would order again.",
    "Please bring back the winter menu.",
    "We will see how next month goes.",
    "Thanks to the delivery team.",
    "Consider a gluten-free crust.",
    "",
)

_EPOCH = datetime(2000, 1, 1)
_DAY_MS = 86_400_000


def _date_ms(day: date) -> int:
    """Milliseconds from _EPOCH to midnight of `day`."""
    return (day - _EPOCH.date()).days * _DAY_MS


def _span(first_day: str, last_day: str) -> tuple[int, int]:
    """[start of first_day, end of last_day) in milliseconds from _EPOCH."""
    return _date_ms(date.fromisoformat(first_day)), _date_ms(date.fromisoformat(last_day)) + _DAY_MS


def _ts(ms: int) -> str:
    """Timestamp text as H2 exports it: YYYY-MM-DDTHH:MM:SS.mmm."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def _day_ms(ms: int) -> int:
    """Midnight of the day that `ms` falls on."""
    return ms - ms % _DAY_MS


def _add_months(day: date, months: int) -> date:
    """The same day of month `months` later; days are at most 28, so every month has them."""
    years, month0 = divmod(day.month - 1 + months, 12)
    return date(day.year + years, month0 + 1, day.day)


def _months_until(first: date, last: date) -> int:
    """How many of first, first+1 month, ... fall on or before `last`."""
    months = (last.year - first.year) * 12 + (last.month - first.month) - (last.day < first.day)
    return max(months + 1, 0)


# Date ranges of the generated data, matching the ranges of Metabase's sample.
_PEOPLE_SPAN = _span("2022-04-19", "2025-04-19")
_BIRTH_SPAN = (date(1958, 4, 26).toordinal(), date(2000, 4, 3).toordinal())
_PRODUCTS_SPAN = _span("2022-04-26", "2025-04-15")
_ORDERS_SPAN = _span("2022-04-30", "2026-04-19")
_REVIEWS_SPAN = _span("2022-06-03", "2026-04-19")
_ACCOUNTS_SPAN = _span("2020-09-15", "2031-10-10")
_EVENTS_SPAN = _span("2022-03-15", "2022-06-21")
_FEEDBACK_SPAN = _span("2020-11-20", "2031-12-01")
_LAST_INVOICE_DAY = date(2031, 8, 17)


@dataclass
class _Account:
    """A Piespace account while generating: the fields that the other Piespace tables depend on."""

    id: int
    email: str
    first: str
    last: str
    plan: str
    source: str | None
    seats: int
    created: int
    trial_ends: int | None
    converted: bool
    legacy: bool
    latitude: float
    longitude: float
    country: str
    first_invoice: date
    capacity: int  # invoice months until the last invoice day, if it pays
    canceled: int | None = None

    def row(self) -> _Row:
        return (
            self.id,
            self.email,
            self.first,
            self.last,
            self.plan,
            self.source,
            self.seats,
            _ts(self.created),
            None if self.trial_ends is None else _ts(self.trial_ends),
            None if self.canceled is None else _ts(self.canceled),
            int(self.converted),
            int(self.canceled is None),
            int(self.legacy),
            self.latitude,
            self.longitude,
            self.country,
        )


class _Generator:
    """One run of the generator: a single random.Random, drawn in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.product_prices: list[float] = []
        self.product_ratings: list[float] = []
        self.product_created: list[int] = []
        self.person_states: list[str] = []
        self.person_created: list[int] = []
        self.accounts: list[_Account] = []

    # -- small helpers -----------------------------------------------------------------------------------
    def _unique(self, make: Callable[[], str], seen: set[str]) -> str:
        value = make()
        while value in seen:
            value = make()
        seen.add(value)
        return value

    def _email(self, first: str, last: str, seen: set[str]) -> str:
        rng = self.rng
        first, last = first.lower(), last.lower()
        local = rng.choice((f"{first}.{last}", f"{last}-{first}", f"{first}{last[0]}", f"{first[0]}{last}"))
        email = f"{local}@{rng.choice(_EMAIL_DOMAINS)}"
        while email in seen:
            email = f"{local}{rng.randint(1, 999)}@{rng.choice(_EMAIL_DOMAINS)}"
        seen.add(email)
        return email

    def _sentence(self, low: int, high: int) -> str:
        words = [self.rng.choice(_LOREM) for _ in range(self.rng.randint(low, high))]
        return " ".join(words).capitalize() + "."

    # -- the shop ----------------------------------------------------------------------------------------
    def products(self) -> list[_Row]:
        rng = self.rng
        titles: set[str] = set()
        vendors: set[str] = set()
        eans: set[str] = set()

        def title() -> str:
            return " ".join(
                rng.choice(words) for words in (_PRODUCT_ADJECTIVES, _PRODUCT_MATERIALS, _PRODUCT_NOUNS)
            )

        def vendor() -> str:
            a, b, c = (rng.choice(_LAST_NAMES) for _ in range(3))
            return rng.choice((f"{a}-{b}", f"{a}, {b} and {c}", f"{a} {rng.choice(_VENDOR_SUFFIXES)}"))

        def ean() -> str:
            digits = [rng.randrange(10) for _ in range(12)]
            check = -sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10
            return "".join(map(str, digits)) + str(check)

        rows: list[_Row] = []
        for product_id in range(1, ROW_COUNTS["PRODUCTS"] + 1):
            price = rng.uniform(15.0, 99.0)
            # Ratings lean high, as shop ratings do; integer tenths keep them on the 0.1 grid.
            rating = max(rng.randrange(51), rng.randrange(51)) / 10
            created = rng.randrange(*_PRODUCTS_SPAN)
            self.product_prices.append(price)
            self.product_ratings.append(rating)
            self.product_created.append(created)
            rows.append(
                (
                    product_id,
                    self._unique(ean, eans),
                    self._unique(title, titles),
                    rng.choice(_CATEGORIES),
                    self._unique(vendor, vendors),
                    price,
                    rating,
                    _ts(created),
                )
            )
        return rows

    def people(self) -> list[_Row]:
        rng = self.rng
        emails: set[str] = set()
        rows: list[_Row] = []
        for person_id in range(1, ROW_COUNTS["PEOPLE"] + 1):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            city, state, zip_code, lat, lon = rng.choice(_US_CITIES)
            street_name = rng.choice(_ORDINALS) if rng.random() < 0.3 else rng.choice(_STREET_NAMES)
            street = f"{street_name} {rng.choice(_STREET_SUFFIXES)}"
            if rng.random() < 0.2:
                street = f"{rng.choice(_DIRECTIONS)} {street}"
            created = rng.randrange(*_PEOPLE_SPAN)
            self.person_states.append(state)
            self.person_created.append(created)
            rows.append(
                (
                    person_id,
                    f"{rng.randint(1, 29999)} {street}",
                    self._email(first, last, emails),
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    f"{first} {last}",
                    city,
                    round(lon + rng.uniform(-0.08, 0.08), 7),
                    state,
                    rng.choice(("Affiliate", "Facebook", "Google", "Organic", "Twitter")),
                    date.fromordinal(rng.randint(*_BIRTH_SPAN)).isoformat(),
                    f"{zip_code + rng.randrange(5):05d}",
                    round(lat + rng.uniform(-0.08, 0.08), 7),
                    _ts(created),
                )
            )
        return rows

    def orders(self) -> list[_Row]:
        """Orders grouped by customer; about 70% of people ever order, some much more often than others.
        An order comes after both its customer and its product were created."""
        rng = self.rng
        total = ROW_COUNTS["ORDERS"]
        people = len(self.person_created)
        buyers = sorted(rng.sample(range(people), people * 7 // 10))
        loyalty = [0.2 + 4 * rng.random() * rng.random() for _ in buyers]
        counts = [1] * len(buyers)
        for i in rng.choices(range(len(buyers)), weights=loyalty, k=total - len(buyers)):
            counts[i] += 1
        popularity = [0.5 + rng.random() for _ in self.product_prices]
        picks = iter(rng.choices(range(len(popularity)), weights=popularity, k=total))
        rows: list[_Row] = []
        for buyer, count in zip(buyers, counts, strict=True):
            tax_rate = _STATE_TAX[self.person_states[buyer]]
            for _ in range(count):
                product = next(picks)
                quantity = rng.choices(_QUANTITIES, weights=_QUANTITY_WEIGHTS)[0]
                subtotal = self.product_prices[product] * quantity
                tax = round(subtotal * tax_rate, 2)
                discount = subtotal * rng.uniform(0.05, 0.25) if rng.random() < 0.102 else None
                total_paid = subtotal + tax - discount if discount is not None else subtotal + tax
                start = max(self.person_created[buyer], self.product_created[product], _ORDERS_SPAN[0])
                created = rng.randrange(start, _ORDERS_SPAN[1])
                rows.append(
                    (
                        len(rows) + 1,
                        buyer + 1,
                        product + 1,
                        subtotal,
                        tax,
                        total_paid,
                        discount,
                        _ts(created),
                        quantity,
                    )
                )
        return rows

    def reviews(self) -> list[_Row]:
        """Reviews grouped by product; a few products have none, and ratings scatter around the product's."""
        rng = self.rng
        weights = [0.0 if rng.random() < 0.15 else 0.3 + rng.random() for _ in self.product_ratings]
        picks = sorted(rng.choices(range(len(weights)), weights=weights, k=ROW_COUNTS["REVIEWS"]))
        rows: list[_Row] = []
        for product in picks:
            first, last = rng.choice(_FIRST_NAMES).lower(), rng.choice(_LAST_NAMES).lower()
            reviewer = rng.choice(
                (first, f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}")
            )
            rating = min(5, max(1, int(self.product_ratings[product] + rng.uniform(-1.5, 1.5) + 0.5)))
            body = " ".join(self._sentence(3, 9) for _ in range(rng.randint(2, 5)))
            created = rng.randrange(max(self.product_created[product], _REVIEWS_SPAN[0]), _REVIEWS_SPAN[1])
            rows.append((len(rows) + 1, product + 1, reviewer, rating, body, _ts(created)))
        return rows

    # -- Piespace ----------------------------------------------------------------------------------------
    def accounts_and_invoices(self) -> tuple[list[_Row], list[_Row]]:
        """ACCOUNTS and INVOICES together: a cancellation ends an account's monthly invoices, and paid months
        are spread over the paying accounts so that INVOICES gets exactly its row count."""
        rng = self.rng
        low, high = _ACCOUNTS_SPAN[0] // 1000, _ACCOUNTS_SPAN[1] // 1000
        # Whole seconds, sorted: accounts are numbered in the order they signed up.
        created_all = sorted(rng.randrange(low, high) * 1000 for _ in range(ROW_COUNTS["ACCOUNTS"]))
        emails: set[str] = set()
        for account_id, created in enumerate(created_all, start=1):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            plan = rng.choices(_PLANS, weights=(60, 30, 10))[0]
            seats = _seats(plan, rng.random())
            legacy = rng.random() < 0.02  # signed up before trials existed, pays from the start
            trial_ends = None if legacy else _day_ms(created) + 14 * _DAY_MS + _DAY_MS // 2
            converted = not legacy and rng.random() < 0.5
            first_invoice = (_EPOCH + timedelta(milliseconds=trial_ends or created, days=1)).date()
            if first_invoice.day > 28:  # bill on a day that every month has
                first_invoice = _add_months(first_invoice.replace(day=1), 1)
            if rng.random() < 0.35:
                country, (lat, lon), spread = "US", rng.choice(_US_CITIES)[3:], 0.1
            else:
                country, lat, lon = rng.choice(_COUNTRIES)
                spread = 0.5
            self.accounts.append(
                _Account(
                    id=account_id,
                    email=self._email(first, last, emails),
                    first=first,
                    last=last,
                    plan=plan,
                    source=rng.choices(_ACCOUNT_SOURCES, weights=(17, 17, 16, 17, 33))[0],
                    seats=seats,
                    created=created,
                    trial_ends=trial_ends,
                    converted=converted,
                    legacy=legacy,
                    latitude=round(lat + rng.uniform(-spread, spread), 5),
                    longitude=round(lon + rng.uniform(-spread, spread), 5),
                    country=country,
                    first_invoice=first_invoice,
                    capacity=_months_until(first_invoice, _LAST_INVOICE_DAY) if converted or legacy else 0,
                )
            )

        invoices: list[tuple[int, int, int, float, int, str]] = []
        for account, paid in zip(self.accounts, self._paid_months(ROW_COUNTS["INVOICES"]), strict=True):
            if account.trial_ends is not None and not account.converted:
                # Canceled during the last days of the trial.
                account.canceled = account.trial_ends - rng.randrange(1, 5 * 86400) * 1000
            elif paid < account.capacity:
                last_paid = _add_months(account.first_invoice, paid - 1)
                account.canceled = _date_ms(last_paid) + rng.randrange(1, 27 * 86400) * 1000
            fee = round(account.seats * _PLAN_SEAT_PRICE[account.plan], 2)
            for month in range(paid):
                expected = rng.random() >= 0.03
                payment = fee if expected else round(fee * rng.uniform(0.1, 0.9), 2)  # prorated seat change
                day = _date_ms(_add_months(account.first_invoice, month))
                invoices.append((day, account.id, month, payment, int(expected), account.plan))
        invoices.sort()
        invoice_rows: list[_Row] = [
            (i, account_id, payment, expected, plan, _ts(day))
            for i, (day, account_id, _, payment, expected, plan) in enumerate(invoices, start=1)
        ]
        return [a.row() for a in self.accounts], invoice_rows

    def _paid_months(self, total: int) -> list[int]:
        """Paid months per account, summing to `total`. Most recent customers still pay (every month up to the
        last invoice day); the others churn after a random number of months, nudged one month at a time until
        the sum is exact."""
        rng = self.rng
        capacity = [a.capacity for a in self.accounts]
        months = [0] * len(capacity)
        churners = []
        for i, cap in enumerate(capacity):
            if cap > 36 or (cap > 0 and rng.random() < 0.25):
                churners.append(i)
            else:
                months[i] = cap
        left = total - sum(months)
        if not churners or left < len(churners) or sum(capacity[i] for i in churners) < left:
            raise ValueError("the generated accounts cannot hold the invoices; try another seed")
        mean = left / len(churners)
        for i in churners:
            months[i] = min(capacity[i], 1 + rng.randrange(int(2 * mean)))
        missing = total - sum(months)
        while missing:
            i = rng.choice(churners)
            if missing > 0 and months[i] < capacity[i]:
                months[i] += 1
                missing -= 1
            elif missing < 0 and months[i] > 1:
                months[i] -= 1
                missing += 1
        return months

    def analytic_events(self) -> list[_Row]:
        """Sessions of page views and button clicks by accounts that were open during the tracking window."""
        rng = self.rng
        start, end = _EVENTS_SPAN
        pool = [
            a for a in self.accounts if a.created < end and (a.canceled is None or a.canceled > start)
        ] or self.accounts
        total = ROW_COUNTS["ANALYTIC_EVENTS"]
        events: list[tuple[int, int, int, str, str | None, str | None]] = []
        while len(events) < total:
            account = rng.choice(pool)
            moment = rng.randrange(max(start, account.created), end) // 1000 * 1000
            for _ in range(rng.randint(2, 12)):
                if moment >= end or len(events) == total:
                    break
                if rng.random() < 0.14:
                    event, page, button = "Button Clicked", None, rng.choice(_BUTTONS)
                else:
                    event, page, button = "Page Viewed", rng.choice(_PAGES), None
                events.append((moment, len(events), account.id, event, page, button))
                moment += rng.randrange(0, 300) * 1000
        events.sort()
        return [
            (i, account_id, event, _ts(moment), page, button)
            for i, (moment, _, account_id, event, page, button) in enumerate(events, start=1)
        ]

    def feedback(self) -> list[_Row]:
        """One message each from some accounts, sent on a day while the account was open."""
        rng = self.rng
        windows = []
        for a in self.accounts:
            low = max(_day_ms(a.created) + _DAY_MS, _FEEDBACK_SPAN[0])
            high = _FEEDBACK_SPAN[1] if a.canceled is None else min(a.canceled, _FEEDBACK_SPAN[1])
            if low < high:
                windows.append((a, low, high))
        messages = []
        for account, low, high in rng.sample(windows, ROW_COUNTS["FEEDBACK"]):
            day = _day_ms(rng.randrange(low, high))
            rating = rng.choices(range(1, 6), weights=(8, 12, 25, 35, 20))[0]
            parts = [
                rng.choice(_FEEDBACK_OPENERS),
                *rng.sample(_FEEDBACK_BY_RATING[rating], rng.randint(1, 3)),
            ]
            parts.append(rng.choice(_FEEDBACK_CLOSERS))
            body = " ".join(p for p in parts if p).format(
                pie=rng.choice(_PIES), bad=rng.choice(_FEEDBACK_BAD), good=rng.choice(_FEEDBACK_GOOD)
            )
            messages.append((day, account.id, account.email, rating, body))
        messages.sort()
        return [
            (i, account_id, email, _ts(day), rating, _RATING_MAPPED[rating], body)
            for i, (day, account_id, email, rating, body) in enumerate(messages, start=1)
        ]


def _seats(plan: str, draw: float) -> int:
    """Seats by plan: small teams on Basic, a long tail of big organisations on Premium."""
    if plan == "Basic":
        return 1 + int(draw * draw * 10)
    if plan == "Business":
        return 5 + int(draw * draw * 60)
    return 25 + int(draw * draw * draw * 1300)


def _generate_tables(seed: int) -> dict[str, list[_Row]]:
    """All eight tables' rows, drawn in a fixed order from one seeded generator."""
    gen = _Generator(seed)
    products = gen.products()
    people = gen.people()
    orders = gen.orders()
    reviews = gen.reviews()
    accounts, invoices = gen.accounts_and_invoices()
    return {
        "PEOPLE": people,
        "ORDERS": orders,
        "PRODUCTS": products,
        "REVIEWS": reviews,
        "ACCOUNTS": accounts,
        "ANALYTIC_EVENTS": gen.analytic_events(),
        "FEEDBACK": gen.feedback(),
        "INVOICES": invoices,
    }


# --- Registration ------------------------------------------------------------------------------------------

SAMPLE_DATABASE_NAME = "Sample Database"
SAMPLE_FILE_NAME = "sample-database.db"
# Metabase's own synced Sample Database has PRODUCTS = 1, ORDERS = 2, PEOPLE = 5 and REVIEWS = 8 on a new
# instance, and scripts (its API tutorial among them) use those ids. Creating the table rows in this order
# before the first sync gives a new querybase instance the same ids.
TABLE_ORDER = (
    "PRODUCTS",
    "ORDERS",
    "ACCOUNTS",
    "ANALYTIC_EVENTS",
    "PEOPLE",
    "FEEDBACK",
    "INVOICES",
    "REVIEWS",
)


def sample_file(config: Config) -> Path:
    return config.plugins_dir / SAMPLE_FILE_NAME


def register(db: Session, config: Config) -> Database:
    """Make sure the Sample Database's file exists and add it as a database (`is_sample`), unsynced."""
    path = ensure_sample_file(sample_file(config), config.sample_csv_dir)
    database = Database(
        name=SAMPLE_DATABASE_NAME,
        engine="sqlite",
        details={"db": str(path.resolve())},
        is_sample=True,
        is_full_sync=True,
        initial_sync_status="incomplete",
    )
    db.add(database)
    db.flush()
    set_new_database_permissions(db, database.id)
    for name in TABLE_ORDER:
        db.add(
            TableRow(db_id=database.id, name=name, display_name=humanize(name), entity_type=entity_type(name))
        )
    db.flush()
    return database
