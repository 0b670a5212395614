"""The TOML config file (``--config PATH``): load, validate, and say which line is wrong.

tomllib reports the line of a syntax error itself. Semantic checks (an unknown
policy type, a bad duration) raise :class:`ConfigValueError` with the key's path
inside the document, e.g. ``("sampling", "tail", "policy", 2, "threshold")``;
:func:`locate` turns that path back into a line by scanning the table headers,
so the message always names a line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traceway.pipeline.sampling.settings import (
    ConfigValueError,
    TailConfig,
    parse_tail,
)
from traceway.pipeline.sampling.strategies import RemoteConfig, parse_remote
from traceway.settings import setting_names

SERVER_SETTINGS = frozenset(setting_names())

Path_ = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")


class ConfigError(Exception):
    """The config file is unreadable or invalid; the message names file and line."""


@dataclass(frozen=True)
class Config:
    tail: TailConfig | None = None  # None: keep every span (no tail sampling)
    remote: RemoteConfig | None = None  # None: no remote sampling endpoint


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line N, column M)".
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(document, text, str(path))


def parse_config(document: dict[str, Any], text: str = "", name: str = "<config>") -> Config:
    try:
        _refuse_unknown_top_level(document)
        sampling = document.get("sampling", {})
        if not isinstance(sampling, dict):
            raise ConfigValueError(("sampling",), "must be a table")
        unknown = set(sampling) - {"tail", "remote"}
        if unknown:
            key = min(unknown)
            raise ConfigValueError(("sampling", key), f"unknown section sampling.{key}")
        tail = parse_tail(sampling["tail"]) if "tail" in sampling else None
        remote = parse_remote(sampling["remote"]) if "remote" in sampling else None
    except ConfigValueError as exc:
        line = locate(text, exc.path)
        where = f"{name}:{line}" if line else name
        raise ConfigError(f"{where}: {dotted(exc.path)}: {exc.message}") from None
    return Config(tail=tail, remote=remote)


def _refuse_unknown_top_level(document: dict[str, Any]) -> None:
    for key in document:
        if key == "sampling":
            continue
        flag = "--" + key.replace("_", "-")
        if key in SERVER_SETTINGS:
            raise ConfigValueError((key,), f"{key!r} is a server setting: give it as {flag} or "
                                   f"TRACEWAY_{key.upper()}; the file holds [sampling] only")
        raise ConfigValueError((key,), f"unknown key {key!r}; the file holds [sampling] only")


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


def locate(text: str, path: Path_) -> int | None:
    """The 1-based line of ``path`` in ``text``: the key's line, else its table's header."""
    counters: dict[Path_, int] = {}
    current: Path_ = ()
    best: int | None = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            current = _concrete(header.group(2), header.group(1) == "[[", current, counters)
            if current == path[:len(current)] and current:
                best = number
            continue
        key = _KEY.match(line)
        if key and current + (key.group(1).strip("\"'"),) == path:
            return number
    return best


def _concrete(dotted_name: str, is_array: bool, current: Path_,
              counters: dict[Path_, int]) -> Path_:
    """The indexed path of a header: ``a.b`` under the current array items."""
    names = [part.strip().strip("\"'") for part in dotted_name.split(".")]
    out: Path_ = ()
    for i, part in enumerate(names):
        out += (part,)
        # Re-use the index of an enclosing array of tables we are inside.
        if (i < len(names) - 1 and len(current) > len(out) and current[:len(out)] == out
                and isinstance(current[len(out)], int)):
            out += (current[len(out)],)
    if is_array:
        index = counters.get(out, -1) + 1
        counters[out] = index
        out += (index,)
    return out
