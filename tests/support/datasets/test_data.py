"""The "test-data" dataset, as data: a small, Metabase-like set of related tables loaded into every
engine the driver tests run on, plus a table with awkward names."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
)


def build_metadata() -> MetaData:
    metadata = MetaData()
    Table(
        "categories",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(100), nullable=False),
    )
    Table(
        "venues",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(255)),
        Column("category_id", Integer, ForeignKey("categories.id")),
        Column("latitude", Float),
        Column("longitude", Float),
        Column("price", Integer),
    )
    Table(
        "users",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("name", String(255)),
        Column("email", String(255)),
        Column("last_login", DateTime),
        Column("birth_date", Date),
        Column("is_active", Boolean),
    )
    Table(
        "checkins",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("date", Date),
        Column("user_id", BigInteger, ForeignKey("users.id")),
        Column("venue_id", Integer, ForeignKey("venues.id")),
        Column("amount", Numeric(10, 2)),
    )
    Table(
        "Odd Table ü",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("select", String(50)),
        Column("has space", String(50)),
        Column('quote"d', String(50)),
        Column("ünïcödé", String(50)),
    )
    return metadata


CATEGORIES = [(1, "African"), (2, "American"), (3, "Artisan"), (4, "Asian"), (5, "BBQ")]
VENUES = [
    (1, "Red Medicine", 4, 10.0646, -165.374, 3),
    (2, "Stout Burgers & Beers", 2, 34.0996, -118.329, 2),
    (3, "The Apple Pan", 2, 34.0406, -118.428, 2),
    (4, "Wurstküche", 3, 33.9997, -118.465, 2),
    (5, "Brite Spot Family Restaurant", 2, 34.0778, -118.261, 2),
    (6, "The 101 Coffee Shop", 3, 34.1054, -118.324, 2),
    (7, "Don Day Korean Restaurant", 4, 34.0689, -118.305, 2),
    (8, "25°", 2, 34.1015, -118.342, 2),
    (9, "Krua Siri", 4, 34.1018, -118.301, 1),
    (10, "Fred 62", 5, 34.1046, -118.292, 2),
]
USERS = [
    (1, "Plato Yeshua", "plato@example.com", dt.datetime(2014, 4, 1, 8, 30), dt.date(1980, 1, 2), True),
    (
        2,
        "Felipinho Asklepios",
        "felipinho@example.com",
        dt.datetime(2014, 12, 5, 15, 15),
        dt.date(1975, 5, 6),
        True,
    ),
    (
        3,
        "Kaneonuskatew Eiran",
        "kane@example.com",
        dt.datetime(2014, 11, 6, 16, 15),
        dt.date(1990, 7, 8),
        False,
    ),
    (4, "Simcha Yan", "simcha@example.com", dt.datetime(2014, 1, 1, 8, 30), dt.date(1985, 9, 10), True),
    (
        5,
        "Quentin Sören",
        "quentin@example.com",
        dt.datetime(2014, 10, 3, 17, 30),
        dt.date(1970, 11, 12),
        True,
    ),
]
CHECKINS = [
    (i, dt.date(2014, 1 + i % 12, 1 + i % 28), 1 + i % 5, 1 + (i * 3) % 10, round(5 + i * 1.25, 2))
    for i in range(1, 41)
]
ODD = [(1, "from", "a b", 'say "hi"', "ünï"), (2, "where", "c d", "plain", "çödé")]

ROWS = {
    "categories": CATEGORIES,
    "venues": VENUES,
    "users": USERS,
    "checkins": CHECKINS,
    "Odd Table ü": ODD,
}
