"""What sync infers from names: display names, semantic types of fields and entity types of tables,
following Metabase's classifiers (`analyze/classifiers/name.clj`)."""

from __future__ import annotations

import re

from querybase.drivers import types as t


def humanize(name: str) -> str:
    """Metabase's "simple" humanization: `USER_ID` → "User ID", `created-at` → "Created At"."""
    words = [w for w in re.split(r"[-_\s]+", name.strip()) if w]
    if not words:
        return name
    return " ".join("ID" if w.lower() == "id" else w[:1].upper() + w[1:].lower() for w in words)


_NUMBER, _INT, _TEXT, _TEMPORAL, _ANY = "number", "integer", "text", "temporal", "any"

# (pattern on the lower-cased column name, which base types it applies to, semantic type); first match wins.
NAME_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (r"^id$", _ANY, t.PK),
    (r"^.*_lat$|^lat$|^latitude$|^.*_latitude$", _NUMBER, t.LATITUDE),
    (r"^.*_lon$|^.*_lng$|^.*_long$|^lon$|^lng$|^long$|^longitude$|^.*_longitude$", _NUMBER, t.LONGITUDE),
    (r"^.*_url$|^url$|^.*_uri$|^uri$", _TEXT, t.URL),
    (r"^.*email.*$", _TEXT, t.EMAIL),
    (r"^city$|^town$", _TEXT, t.CITY),
    (r"^state$|^province$|^state_code$", _TEXT, t.STATE),
    (r"^country$|^country_code$|^.*_country$", _TEXT, t.COUNTRY),
    (r"^zip$|^zip_?code$|^postal_?code$|^zipcode$", _ANY, t.ZIP_CODE),
    (r"^name$|^first_?name$|^last_?name$|^full_?name$|^.*_name$", _TEXT, t.NAME),
    (r"^title$", _TEXT, t.TITLE),
    (r"^description$|^.*_description$", _TEXT, t.DESCRIPTION),
    (r"^company$|^vendor$|^.*_company$|^organization$", _TEXT, t.COMPANY),
    (r"^.*discount.*$", _NUMBER, t.DISCOUNT),
    (r"^.*quantity.*$|^.*count$|^num_.*$|^number_of_.*$", _INT, t.QUANTITY),
    (r"^.*rating.*$|^.*score.*$|^.*stars$", _NUMBER, t.SCORE),
    (r"^source$|^.*_source$|^channel$|^referrer$", _TEXT, t.SOURCE),
    (r"^.*cancel.*$", _TEMPORAL, t.CANCELATION_TIMESTAMP),
    (r"^.*created.*$|^.*create_.*$|^.*start.*$|^.*joined.*$", _TEMPORAL, t.CREATION_TIMESTAMP),
    (r"^.*_type$|^type$|^status$|^role$|^gender$|^currency$|^category$|^plan$", _TEXT, t.CATEGORY),
)


def _applies(kind: str, base_type: str) -> bool:
    if kind == _ANY:
        return True
    if kind == _NUMBER:
        return base_type in t.NUMBER_TYPES
    if kind == _INT:
        return base_type in t.INTEGER_TYPES
    if kind == _TEXT:
        return base_type in t.TEXT_TYPES
    return base_type in t.TEMPORAL_TYPES


def semantic_type_from_name(name: str, base_type: str) -> str | None:
    lowered = name.lower()
    for pattern, kind, semantic_type in NAME_PATTERNS:
        if re.match(pattern, lowered) and _applies(kind, base_type):
            return semantic_type
    return None


_ENTITY_TYPES = (
    (r"^(.*_)?(orders?|transactions?|sales|purchases?)$", "entity/TransactionTable"),
    (r"^(.*_)?(products?|items?|skus?)$", "entity/ProductTable"),
    (r"^(.*_)?(users?|people|persons?|customers?|accounts?|members?)$", "entity/UserTable"),
    (r"^(.*_)?(events?|analytic_events)$", "entity/EventTable"),
    (r"^(.*_)?(companies|businesses|organizations?|vendors?)$", "entity/CompanyTable"),
)


def entity_type(table_name: str) -> str:
    lowered = table_name.lower()
    for pattern, entity in _ENTITY_TYPES:
        if re.match(pattern, lowered):
            return entity
    return "entity/GenericTable"
