"""The tag-condition syntax of the query API (``tags=`` and ``tag=``), as the UI's search form writes it.

``tags`` is either a JSON object (Jaeger's form: ``{"error":"true"}``, values
exact) or logfmt: space-separated ``key=value`` pairs, values quoted when they
hold spaces (``msg="not found"``; ``\\"`` and ``\\\\`` are the escapes inside
quotes). In logfmt and in ``tag=key:value`` an operator may start the value:

* ``key=value``  / ``key:value``   the value's string form equals ``value``
* ``key=~re``    / ``key:~re``     a string value in which the regex ``re`` matches
* ``key=*text``  / ``key:*text``   a string value that contains ``text``

A quoted value is always exact (``key="~x"`` is the literal ``~x``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from traceway.storage.api import TagPattern

TAGS_EXPECTED = "tags: expected key=value pairs or a JSON object"
MAX_PATTERN_CHARS = 1_000
OPERATORS = {"~": "regex", "*": "contains"}

_PAIR = re.compile(r'\s*([^\s="]+)=([~*]?)(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))(?=\s|$)', re.DOTALL)
_QUOTED_ESCAPE = re.compile(r'\\(["\\])')


class TagSyntaxError(ValueError):
    """A tag condition cannot be read; the message is meant for the person who wrote it."""


def parse_tags_text(text: str) -> tuple[dict[str, str], list[TagPattern]]:
    """``tags`` as exact conditions by key and patterns, from JSON or logfmt."""
    if text.lstrip().startswith("{"):
        return _from_json(text), []
    exact: dict[str, str] = {}
    patterns: list[TagPattern] = []
    position, text = 0, text.rstrip()
    while position < len(text):
        match = _PAIR.match(text, position)
        if not match:
            near = text[position:].strip()[:30]
            raise TagSyntaxError(f"{TAGS_EXPECTED} (near {near!r})")
        key, operator, quoted, bare = match.groups()
        if quoted is not None:
            value = _QUOTED_ESCAPE.sub(r"\1", quoted)
        else:
            value = bare
        _check_text("tags", key, value)
        if operator:
            patterns.append(make_pattern(key, OPERATORS[operator], value))
        else:
            exact[key] = value
        position = match.end()
    return exact, patterns


def parse_tag_param(item: str) -> tuple[str, str, TagPattern | None]:
    """One ``tag=key:value`` (or ``key:~re``, ``key:*text``): key, value and the pattern if any."""
    key, sep, value = item.partition(":")
    if not sep or not key:
        raise TagSyntaxError(f"tag: {item[:40]!r} must look like key:value")
    _check_text("tag", key, value)
    if value[:1] in OPERATORS:
        return key, value, make_pattern(key, OPERATORS[value[:1]], value[1:])
    return key, value, None


def make_pattern(key: str, mode: str, text: str) -> TagPattern:
    if len(text) > MAX_PATTERN_CHARS:
        raise TagSyntaxError(f"{key}: a pattern of {len(text)} characters is too long "
                             f"(at most {MAX_PATTERN_CHARS})")
    if mode == "regex":
        try:
            re.compile(text)
        except (re.error, RecursionError, OverflowError) as exc:
            raise TagSyntaxError(f"{key}: {text[:40]!r} is not a regular expression "
                                 f"({getattr(exc, 'msg', 'too complex')})") from None
    return TagPattern(key, mode, text)


def _from_json(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise TagSyntaxError(TAGS_EXPECTED) from None
    if not isinstance(document, dict):
        raise TagSyntaxError(TAGS_EXPECTED)
    tags: dict[str, str] = {}
    for key, value in document.items():
        tags[key] = _json_value(key, value)
        _check_text("tags", key, tags[key])
    return tags


def _json_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TagSyntaxError(f"tags: the value of {key[:40]!r} must be a string, number or boolean")


def _check_text(name: str, key: str, value: str) -> None:
    """Keys and values become UTF-8 in every store: refuse what cannot (lone surrogates)."""
    for part in (key, value):
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            raise TagSyntaxError(f"{name}: {part[:40]!r} is not valid Unicode text") from None
