"""What sync infers from names: display names, semantic types of fields and entity types of tables,
following Metabase's classifiers (`analyze/classifiers/name.clj`)."""

from __future__ import annotations

import re

from querybase.drivers import types as t

_UPPER_WORDS = frozenset({"id", "url", "ip", "uid", "uuid", "guid"})


def _humanize_word(word: str) -> str:
    if word.lower() in _UPPER_WORDS:
        return word.upper()
    if word == word.upper():
        return word[:1].upper() + word[1:].lower()
    return word[:1].upper() + word[1:]


def humanize(name: str) -> str:
    """Metabase's "simple" humanization: `USER_ID` → "User ID", `ip_address` → "IP Address",
    `userId` → "UserId"."""
    words = [w for w in re.split(r"[-_\s]+", name) if w]
    return " ".join(_humanize_word(w) for w in words) if words else name


_ANY, _FLOAT, _INT, _INT_OR_TEXT, _TEXT, _NUMBER = "any", "float", "int", "int-or-text", "text", "number"
_DATE, _TIME, _TIMESTAMP = "date", "time", "timestamp"

# Metabase's name classifier (`analyze/classifiers/name.clj`), in its order: (regex searched in the
# lower-cased name, the base types it applies to, the semantic type). The first row that matches wins.
NAME_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (r"^id$", _ANY, t.PK),
    (r"^lon$|^.*_lon$|^.*_lng$|^.*_long$|^.*_longitude$|^lng$|^long$|^longitude$", _FLOAT, t.LONGITUDE),
    (r"^lat$|^.*_lat$|^latitude$|^.*_latitude$", _FLOAT, t.LATITUDE),
    (r"^.*_type$", _TEXT, t.CATEGORY),
    (r"^.*_url$", _TEXT, t.URL),
    (r"^city$", _TEXT, t.CITY),
    (r"^country|_country$", _TEXT, t.COUNTRY),
    (r"^currency$", _TEXT, t.CATEGORY),
    (r"^first_?name$|^full_?name$|^last_?name$|^name$", _TEXT, t.NAME),
    (r"^gender$|^role$|^sex$|^status$|^type$", _TEXT, t.CATEGORY),
    (r"^postal_?code$|^zip_?code$", _INT_OR_TEXT, t.ZIP_CODE),
    (r"^url$", _TEXT, t.URL),
    (r"discount", _NUMBER, t.DISCOUNT),
    (r"income", _NUMBER, "type/Income"),
    (r"quantity|count$|number|^num_", _INT, t.QUANTITY),
    (r"join", _DATE, "type/JoinDate"),
    (r"join", _TIME, "type/JoinTime"),
    (r"join", _TIMESTAMP, "type/JoinTimestamp"),
    (r"create|start", _DATE, "type/CreationDate"),
    (r"create|start", _TIME, "type/CreationTime"),
    (r"create|start", _TIMESTAMP, t.CREATION_TIMESTAMP),
    (r"cancel", _DATE, "type/CancelationDate"),
    (r"cancel", _TIME, "type/CancelationTime"),
    (r"cancel", _TIMESTAMP, t.CANCELATION_TIMESTAMP),
    (r"delet(?:e|i)", _DATE, "type/DeletionDate"),
    (r"delet(?:e|i)", _TIME, "type/DeletionTime"),
    (r"delet(?:e|i)", _TIMESTAMP, "type/DeletionTimestamp"),
    (r"update", _DATE, "type/UpdatedDate"),
    (r"update", _TIME, "type/UpdatedTime"),
    (r"update", _TIMESTAMP, "type/UpdatedTimestamp"),
    (r"source|channel", _INT_OR_TEXT, t.SOURCE),
    (r"share|percent|rate$", _FLOAT, "type/Share"),
    (r"margin", _NUMBER, "type/GrossMargin"),
    (r"cost", _NUMBER, "type/Cost"),
    (r"duration", _NUMBER, "type/Duration"),
    (r"author|creator|created_?by", _INT_OR_TEXT, "type/Author"),
    (r"owner", _INT_OR_TEXT, "type/Owner"),
    (r"company|vendor", _INT_OR_TEXT, t.COMPANY),
    (r"subscription", _INT_OR_TEXT, "type/Subscription"),
    (r"score|rating|stars", _NUMBER, t.SCORE),
    (r"description", _TEXT, t.DESCRIPTION),
    (r"title", _TEXT, t.TITLE),
    (r"comment", _TEXT, "type/Comment"),
    (r"birthda(?:te|y)|(?:te|y)_?of_?birth", _DATE, "type/Birthdate"),
    (r"birthda(?:te|y)|(?:te|y)_?of_?birth", _TIMESTAMP, "type/Birthdate"),
)

_DATETIMES = frozenset({t.DATETIME, t.DATETIME_TZ, "type/DateTimeWithTZ"})


def _applies(kind: str, base_type: str) -> bool:
    return {
        _ANY: True,
        _FLOAT: base_type in (t.FLOAT, t.DECIMAL),
        _INT: base_type in t.INTEGER_TYPES,
        _INT_OR_TEXT: base_type in t.INTEGER_TYPES or base_type == t.TEXT,
        _TEXT: base_type == t.TEXT,
        _NUMBER: base_type in t.NUMBER_TYPES,
        _DATE: base_type == t.DATE,
        _TIME: base_type in (t.TIME, t.TIME_TZ),
        _TIMESTAMP: base_type in _DATETIMES,
    }[kind]


def semantic_type_from_name(name: str, base_type: str) -> str | None:
    lowered = name.lower()
    for pattern, kind, semantic_type in NAME_PATTERNS:
        if re.search(pattern, lowered) and _applies(kind, base_type):
            return semantic_type
    return None


# Metabase's table classifier: a word at the start of the name, or at its end (optionally plural).
_ENTITY_WORDS = (
    (("order", "transaction", "sale"), "entity/TransactionTable"),
    (("product",), "entity/ProductTable"),
    (("user", "account", "people", "person", "employee"), "entity/UserTable"),
    (("event", "checkin", "log"), "entity/EventTable"),
    (("subscription",), "entity/SubscriptionTable"),
    (("company", "companies", "vendor"), "entity/CompanyTable"),
)


def entity_type(table_name: str) -> str:
    lowered = table_name.lower()
    for words, entity in _ENTITY_WORDS:
        if any(re.search(f"^{word}|{word}s?$", lowered) for word in words):
            return entity
    return "entity/GenericTable"
