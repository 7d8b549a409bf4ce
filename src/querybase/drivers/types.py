"""Metabase's type names: base types (what a column holds) and semantic types (what it means)."""

from __future__ import annotations

# Base types
BIG_INTEGER = "type/BigInteger"
BOOLEAN = "type/Boolean"
DATE = "type/Date"
DATETIME = "type/DateTime"
DATETIME_TZ = "type/DateTimeWithLocalTZ"
DECIMAL = "type/Decimal"
FLOAT = "type/Float"
INTEGER = "type/Integer"
JSON = "type/JSON"
ARRAY = "type/Array"
TEXT = "type/Text"
TIME = "type/Time"
TIME_TZ = "type/TimeWithLocalTZ"
UUID = "type/UUID"
IP_ADDRESS = "type/IPAddress"
STRUCTURED = "type/Structured"
DICTIONARY = "type/Dictionary"
BINARY = "type/*"
UNKNOWN = "type/*"

NUMBER_TYPES = frozenset({BIG_INTEGER, DECIMAL, FLOAT, INTEGER})
INTEGER_TYPES = frozenset({BIG_INTEGER, INTEGER})
TEMPORAL_TYPES = frozenset({DATE, DATETIME, DATETIME_TZ, TIME, TIME_TZ})
TEXT_TYPES = frozenset({TEXT, UUID, IP_ADDRESS})

# Semantic types
PK = "type/PK"
FK = "type/FK"
NAME = "type/Name"
TITLE = "type/Title"
EMAIL = "type/Email"
URL = "type/URL"
CITY = "type/City"
STATE = "type/State"
COUNTRY = "type/Country"
ZIP_CODE = "type/ZipCode"
LATITUDE = "type/Latitude"
LONGITUDE = "type/Longitude"
CATEGORY = "type/Category"
CREATION_TIMESTAMP = "type/CreationTimestamp"
CANCELATION_TIMESTAMP = "type/CancelationTimestamp"
QUANTITY = "type/Quantity"
SCORE = "type/Score"
DISCOUNT = "type/Discount"
SOURCE = "type/Source"
COMPANY = "type/Company"
DESCRIPTION = "type/Description"
SERIALIZED_JSON = "type/SerializedJSON"
