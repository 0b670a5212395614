"""SQL pre-filters for tag patterns (substring and regex), sound for ``tagmatch.value_matches``.

A pre-filter is true for every span that may match; the reader confirms each
candidate with ``tagmatch.span_matches``. Soundness rests on two facts: a string
attribute's key and value bytes appear verbatim in the protobuf of ``detail``,
the resource or the scope (stored as latin-1 text, byte for byte), and a text a
matching value must contain (``tagmatch.required_text``) is then there too.
Regexes are never run in SQL: DuckDB's RE2 and Python's ``re`` differ at the
edges, and a pre-filter must not drop a span the confirmation would keep.
"""

from __future__ import annotations

from traceway.model import SPAN_KIND_NAMES, STATUS_NAMES
from traceway.storage.api import TagPattern
from traceway.storage.tagmatch import key_bytes, required_text, value_matches

Condition = tuple[str, list[object]]


def pattern_prefilter(pattern: TagPattern) -> tuple[str, list[object]] | None:
    """A SQL condition over ``spans`` true for every span that may match ``pattern``,
    or None when no useful condition exists (every span is a candidate)."""
    needle = required_text(pattern)
    key = key_bytes(pattern.key).decode("latin-1")
    in_body = "contains({col}, ?)" + (" AND contains({col}, ?)" if needle else "")
    body_params: list[object] = [key, _latin1(needle)] if needle else [key]
    conditions = [in_body.format(col="detail"),
                  f"resource_id IN (SELECT id FROM resources WHERE {in_body.format(col='body')})",
                  f"scope_id IN (SELECT id FROM scopes WHERE {in_body.format(col='body')})"]
    params = body_params * 3
    derived = _derived(pattern, needle)
    if derived is None:
        return None
    for condition, extra in derived:
        conditions.append(condition)
        params += extra
    return " OR ".join(f"({c})" for c in conditions), params


def _derived(pattern: TagPattern, needle: str | None) -> list[Condition] | None:
    """Conditions for the string tags Traceway derives: none when the key is not
    one (or no derived value can match), None when every span may match."""
    key = pattern.key
    if key == "span.kind":
        kinds = [int(k) for k, name in SPAN_KIND_NAMES.items() if value_matches(pattern, name)]
        return _one_of("kind", kinds)
    if key == "otel.status_code":
        codes = [int(c) for c, name in STATUS_NAMES.items() if value_matches(pattern, name)]
        return _one_of("status_code", codes)
    if key not in ("otel.status_description", "otel.scope.name", "otel.scope.version",
                   "w3c.tracestate", "event"):
        return []
    if not needle:
        return None
    if key == "otel.status_description":
        return [("contains(status_message, ?)", [needle])]
    if key in ("otel.scope.name", "otel.scope.version"):
        column = key.rsplit(".", 1)[1]
        return [(f"scope_id IN (SELECT id FROM scopes WHERE contains({column}, ?))", [needle])]
    return [("contains(detail, ?)", [_latin1(needle)])]  # trace state and event names


def _one_of(column: str, values: list[int]) -> list[Condition]:
    if not values:
        return []
    return [(f"{column} IN ({', '.join(['?'] * len(values))})", list(values))]


def _latin1(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")
