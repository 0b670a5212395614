"""Traceway: a distributed tracing system. ``traceway.connect`` opens traces for notebooks."""

from __future__ import annotations

from typing import Any

__all__ = ["connect"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing traceway.instrument in a service pulls in no storage code.
    if name == "connect":
        from traceway.client import connect

        return connect
    raise AttributeError(f"module 'traceway' has no attribute {name!r}")
