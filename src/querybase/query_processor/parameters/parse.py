"""Split native SQL into text, `{{tag}}` placeholders and `[[optional]]` clauses, as Metabase's parser does.

The rules are Metabase's (`lib/parse.cljc`, `lib/parameters/parse.cljc`): `{{`/`}}` and `[[`/`]]` pair up,
nesting allowed; markers inside SQL comments (`-- …` to the end of the line, `/* … */`) are plain text unless
the comment starts inside a clause; a malformed clause inside a string literal stays literal text; tag names
are trimmed, and snippet (`{{snippet: Name}}`) and card (`{{#123-slug}}`) names get one spelling each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from querybase.query_processor.errors import InvalidQuery


@dataclass(frozen=True)
class Param:
    """A `{{name}}` placeholder; `name` is the template tag it refers to."""

    name: str


@dataclass(frozen=True)
class OptionalClause:
    """A `[[ … ]]` clause: kept only when every placeholder directly or deeply inside it has a value."""

    parts: tuple[Part, ...]


Part = str | Param | OptionalClause

# Token kinds, found in this order (each pass splits the text left over by the previous ones).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("block-comment-begin", re.compile(re.escape("/*"))),
    ("block-comment-end", re.compile(re.escape("*/"))),
    ("line-comment-begin", re.compile(re.escape("--"))),
    ("newline", re.compile("\n")),
    ("optional-begin", re.compile(re.escape("[["))),
    ("optional-end", re.compile(re.escape("]]"))),
    # Only the last two of three or more braces open a placeholder: `{{{x}}` is "{" + {{x}}.
    ("param-begin", re.compile(r"\{\{(?!\{)")),
    ("param-end", re.compile(re.escape("}}"))),
    ("single-quote", re.compile("'")),
)
_COMMENT_BEGINS = ("line-comment-begin", "block-comment-begin")
# The token that ends each kind of comment (kept in the comment's text).
_CLOSES = {"block-comment-end": "block-comment-begin", "newline": "line-comment-begin"}

_VARIABLE_NAME = re.compile(r"\s*([A-Za-z0-9_.]+)\s*")
_SNIPPET_NAME = re.compile(r"\s*(snippet:\s*[^}]*[^}\s])\s*")
_CARD_NAME = re.compile(r"\s*(#[0-9]*(?:-[a-z0-9-]*)?)\s*")

UNMATCHED = "Invalid query: found '[[' or '{{' with no matching ']]' or '}}'"
NOT_A_NAME = "Invalid '{{...}}' clause: expected a param name"
EMPTY_NAME = "'{{...}}' clauses cannot be empty."
NO_PARAM_IN_OPTIONAL = "[[...]] clauses must contain at least one '{{...}}' clause."


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def parse(sql: str, *, handle_sql_comments: bool = True) -> list[Part]:
    """The parts of `sql`: text, placeholders and optional clauses (adjacent text merged).

    Raises InvalidQuery with Metabase's message for unbalanced or empty clauses.
    """
    tokens = _tokenize(sql, handle_sql_comments)
    if tokens == [sql]:
        return [sql]
    parts, _ = _Parser(tokens).parse(0, 0, 0, in_string=False, comment=None)
    return _merge_text(parts)


def snippet_name(name: str) -> str | None:
    """The snippet name of a `snippet: Name` tag name, else None."""
    return name.removeprefix("snippet:").strip() if name.startswith("snippet:") else None


def _tokenize(sql: str, handle_sql_comments: bool) -> list[str | _Token]:
    pieces: list[str | _Token] = [sql]
    patterns = _PATTERNS if handle_sql_comments else _PATTERNS[4:]
    for kind, pattern in patterns:
        split: list[str | _Token] = []
        for piece in pieces:
            if isinstance(piece, _Token):
                split.append(piece)
                continue
            position = 0
            for match in pattern.finditer(piece):
                split += [piece[position : match.start()], _Token(kind, match.group())]
                position = match.end()
            split.append(piece[position:])
        pieces = [p for p in split if isinstance(p, _Token) or p]
    return pieces


class _Parser:
    """Recursive descent over the tokens, one level per open `[[`, `{{` or comment."""

    def __init__(self, tokens: list[str | _Token]) -> None:
        self.tokens = tokens

    def parse(
        self, index: int, optional_level: int, param_level: int, *, in_string: bool, comment: str | None
    ) -> tuple[list[Part], int]:
        """Parts up to the token closing the current level; returns them and the index after it."""
        acc: list[Part] = []
        while index < len(self.tokens):
            token = self.tokens[index]
            index += 1
            if isinstance(token, str):
                acc.append(token)
                continue
            kind = token.kind
            if kind in ("optional-begin", "param-begin"):
                if comment:
                    acc.append(token.text)
                    continue
                try:
                    inner, after = self.parse(
                        index,
                        optional_level + (kind == "optional-begin"),
                        param_level + (kind == "param-begin"),
                        in_string=in_string,
                        comment=comment,
                    )
                    acc.append(_optional(inner) if kind == "optional-begin" else _param(inner))
                    index = after
                except InvalidQuery:  # a malformed clause inside a string literal stays text
                    if not in_string:
                        raise
                    acc.append(token.text)
            elif kind in _COMMENT_BEGINS:
                if comment or optional_level or param_level or in_string:
                    acc.append(token.text)
                    continue
                inner, index = self.parse(
                    index, optional_level, param_level, in_string=in_string, comment=kind
                )
                acc += [token.text, *inner]
            elif comment is not None and _CLOSES.get(kind) == comment:
                return [*acc, token.text], index
            elif (kind == "optional-end" and optional_level) or (kind == "param-end" and param_level):
                return acc, index
            else:
                acc.append(token.text)
                if kind == "single-quote":
                    in_string = not in_string
        if optional_level or param_level:
            raise InvalidQuery(UNMATCHED)
        return acc, index


def _merge_text(parts: list[Part]) -> list[Part]:
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def _param(parts: list[Part]) -> Param:
    merged = _merge_text(parts)
    if len(merged) != 1 or not isinstance(merged[0], str):
        raise InvalidQuery(NOT_A_NAME)
    name = merged[0]
    if not name.strip():
        raise InvalidQuery(EMPTY_NAME)
    for pattern in (_VARIABLE_NAME, _SNIPPET_NAME, _CARD_NAME):
        match = pattern.fullmatch(name)
        if match:
            if pattern is _SNIPPET_NAME:
                return Param(f"snippet: {snippet_name(match.group(1))}")
            return Param(match.group(1))
    return Param(name.strip())


def _optional(parts: list[Part]) -> OptionalClause:
    if not any(isinstance(part, Param) for part in parts):
        raise InvalidQuery(NO_PARAM_IN_OPTIONAL)
    return OptionalClause(tuple(_merge_text(parts)))
