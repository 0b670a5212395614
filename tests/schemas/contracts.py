"""Validate answers against the clients' own response schemas (see the two JSON files here).

``jaeger-ui-v3.schema.json`` is Jaeger UI's zod schemas for ``/api/v3`` translated to JSON
Schema; ``zipkin2-api.schema.json`` the response definitions of Zipkin's ``zipkin2-api.yaml``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

HERE = Path(__file__).parent


@cache
def _validator(schema_file: str, definition: str) -> Draft202012Validator:
    schema = json.loads((HERE / schema_file).read_text())
    assert definition in schema["$defs"], definition
    return Draft202012Validator({"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]},
                                format_checker=FormatChecker())


def _check(schema_file: str, definition: str, document: Any) -> None:
    errors = sorted(_validator(schema_file, definition).iter_errors(document), key=str)
    assert not errors, f"{definition}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def check_jaeger_v3(definition: str, document: Any) -> None:
    _check("jaeger-ui-v3.schema.json", definition, document)


def check_zipkin(definition: str, document: Any) -> None:
    _check("zipkin2-api.schema.json", definition, document)
