"""The one duration grammar of Traceway: CLI flags, env vars, the config file and query parameters.

Go's ``time.ParseDuration`` (what Jaeger's query parameters use) plus ``d`` for
days: a sequence of decimal numbers, each with a unit, e.g. ``500ms``, ``1.5s``,
``2m``, ``1h30m``, ``7d``. Units: ``ns``, ``us`` (or ``µs``/``μs``), ``ms``,
``s``, ``m``, ``h``, ``d``. ``0`` needs no unit. Unlike Go, a sign is refused:
no setting or query of Traceway means anything by a negative duration.
Arithmetic is exact (no float rounding) and the total must fit in 64-bit
nanoseconds (about 292 years), as in Go.
"""

from __future__ import annotations

import re
from decimal import Decimal

UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
           "m": 60 * 10**9, "h": 3_600 * 10**9, "d": 86_400 * 10**9}
MAX_DURATION_NS = 2**63 - 1
EXAMPLES = "500ms, 1.5s, 2m, 1h30m or 7d"

_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d)")
# Enough digits for any duration that fits; longer numbers are refused unread.
_MAX_CHARS = 100


class DurationError(ValueError):
    """Not a duration of the grammar above; the message says why in plain words."""


def parse_duration_ns(text: str) -> int:
    """``text`` in nanoseconds (truncated toward zero, as Go does)."""
    if not isinstance(text, str):
        raise DurationError(f"{text!r} is not a duration like {EXAMPLES}")
    if len(text) > _MAX_CHARS:
        raise DurationError(f"a duration of {len(text)} characters is too long; "
                            f"write one like {EXAMPLES}")
    if text == "0":
        return 0
    if text[:1] in ("-", "+"):
        raise DurationError(f"{text!r}: a duration must not have a sign")
    position, total = 0, Decimal(0)
    while position < len(text):
        match = _PART.match(text, position)
        if not match:
            raise DurationError(f"{text!r} is not a duration like {EXAMPLES}")
        total += Decimal(match.group(1)) * UNIT_NS[match.group(2)]
        position = match.end()
    if not text:
        raise DurationError(f"empty duration; write one like {EXAMPLES}")
    if total > MAX_DURATION_NS:
        raise DurationError(f"{text!r} is longer than the longest duration (about 292 years)")
    return int(total)
