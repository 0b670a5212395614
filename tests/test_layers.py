"""The dependency rules of STYLE.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "traceway"

# package -> traceway packages it must never import
FORBIDDEN = {
    "collector": {"query", "ui"},
    "query": {"collector"},
    "storage": {"collector", "query", "ui", "pipeline", "server"},
    "convert": {"collector", "query", "storage", "pipeline", "server", "ui"},
    "model": {"collector", "query", "storage", "pipeline", "convert", "server", "ui"},
    # Pure functions over spans: no I/O layers (storage is read by the query side for it).
    "analysis": {"collector", "query", "storage", "pipeline", "server", "ui"},
    # Shared by the receivers and the UI port: it knows only tokens, TLS files and headers.
    "http_security": {"collector", "query", "storage", "pipeline", "convert", "server", "ui",
                      "settings"},
    # A receiver worker (--workers) never opens the store: the main process is its one writer.
    "receiver_worker": {"query", "ui", "storage", "server"},
    # traceway.connect reads stores and the query API; it never runs a server.
    "client": {"collector", "pipeline", "server", "ui"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in found
            if name.startswith("traceway.") and name.count(".") >= 1}


def _modules(package: str) -> list[Path]:
    target = SRC / package
    return sorted(target.rglob("*.py")) if target.is_dir() else [SRC / f"{package}.py"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_do_not_reach_across(package):
    for path in _modules(package):
        crossing = _imports(path) & FORBIDDEN[package]
        assert not crossing, f"{path.relative_to(SRC)} imports traceway.{crossing}"


def test_the_instrumentation_kit_is_an_island():
    for path in _modules("instrument"):
        others = _imports(path) - {"instrument"}
        assert not others, f"{path.relative_to(SRC)} imports traceway.{others}"
