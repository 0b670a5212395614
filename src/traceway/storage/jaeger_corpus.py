"""Jaeger's storage-integration search corpus as a conformance test.

Jaeger checks every storage backend against ``queries.json`` (25 searches)
over 31 OTLP/JSON traces. :class:`JaegerCorpusConformance` runs the same
searches on a Traceway backend: mix it into a ``Test*`` class that provides a
``store`` fixture and, optionally, ``corpus_dir``::

    class TestMemoryCorpus(JaegerCorpusConformance):
        corpus_dir = REPO / ".." / "shared" / "fixtures" / "jaeger-storage-integration"

        @pytest.fixture
        def store(self):
            ...

The fixtures date from 2017. :func:`load_corpus` moves every timestamp (and
every query window) by the same whole number of seconds so that the newest span
started an hour ago and no retention policy drops the data.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from traceway.convert.attributes import format_double
from traceway.convert.otlp import spans_from_otlp_json
from traceway.model import SpanBatch
from traceway.storage.api import TraceQuery

_SECOND_NS = 1_000_000_000
_TIME_KEYS = ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "observedTimeUnixNano")


def default_corpus_dir() -> Path:
    """Where a source checkout finds the corpus: ``<repo>/../shared/fixtures/...``."""
    repo = Path(__file__).resolve().parents[3]
    return repo.parent / "shared" / "fixtures" / "jaeger-storage-integration"


@dataclass(frozen=True, slots=True)
class CorpusCase:
    caption: str
    query: TraceQuery
    expected: tuple[str, ...]  # fixture names, i.e. file stems in traces/


@dataclass(frozen=True, slots=True)
class Corpus:
    traces: dict[str, SpanBatch]  # fixture name -> its spans, timestamps shifted
    cases: list[CorpusCase]

    def fixture_of(self, trace_id: bytes) -> str:
        for name, batch in self.traces.items():
            if trace_id in batch.trace_id:
                return name
        return f"<unknown trace {trace_id.hex()}>"


def case_id(caption: str) -> str:
    """A pytest id for a caption: ``Tags + max Duration`` -> ``tags-max-duration``."""
    return re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")


def read_captions(directory: Path) -> list[str]:
    """The case captions, cheap enough to read at test collection time."""
    return [case["Caption"] for case in json.loads((directory / "queries.json").read_bytes())]


@lru_cache(maxsize=4)
def load_corpus(directory: Path) -> Corpus:
    """Every trace and query of the corpus, moved to recent times.

    Cached, so one test session uses a single shift; treat the batches as
    read-only.
    """
    documents = {path.stem: json.loads(path.read_bytes())
                 for path in sorted((directory / "traces").glob("*.json"))}
    newest = max(int(value) for document in documents.values()
                 for key, value in _times(document) if key == "startTimeUnixNano")
    anchor = (time.time_ns() // _SECOND_NS - 3600) * _SECOND_NS
    shift = (anchor - newest) // _SECOND_NS * _SECOND_NS
    traces = {}
    for name, document in documents.items():
        _shift_times(document, shift)
        decoded = spans_from_otlp_json(json.dumps(document).encode())
        if decoded.rejected:
            raise ValueError(f"corpus trace {name}: {decoded.error_message}")
        traces[name] = decoded.batch
    cases = [_case(raw, shift) for raw in json.loads((directory / "queries.json").read_bytes())]
    return Corpus(traces, cases)


def _times(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TIME_KEYS:
                yield key, value
            else:
                yield from _times(value)
    elif isinstance(node, list):
        for item in node:
            yield from _times(item)


def _shift_times(node: Any, shift: int) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TIME_KEYS:
                node[key] = str(int(value) + shift)
            else:
                _shift_times(value, shift)
    elif isinstance(node, list):
        for item in node:
            _shift_times(item, shift)


def _case(raw: dict[str, Any], shift: int) -> CorpusCase:
    q = raw["Query"]
    query = TraceQuery(
        start_min_ns=_rfc3339_ns(q["StartTimeMin"]) + shift,
        start_max_ns=_rfc3339_ns(q["StartTimeMax"]) + shift,
        service=q.get("ServiceName") or None,
        operation=q.get("OperationName") or None,
        tags={key: _tag_string(value) for key, value in (q.get("Tags") or {}).items()},
        # Jaeger's zero duration means "no bound"; its durations are nanoseconds.
        duration_min_ns=q.get("DurationMin") or None,
        duration_max_ns=q.get("DurationMax") or None,
        limit=q.get("NumTraces") or 20,
    )
    return CorpusCase(raw["Caption"], query, tuple(raw["ExpectedFixtures"]))


def _rfc3339_ns(text: str) -> int:
    """Exact nanoseconds of an RFC 3339 UTC time with up to 9 fraction digits."""
    match = re.fullmatch(r"(.+?)(?:\.(\d{1,9}))?Z", text)
    if not match:
        raise ValueError(f"not an RFC 3339 UTC time: {text!r}")
    seconds = int(datetime.fromisoformat(match[1] + "+00:00").timestamp())
    return seconds * _SECOND_NS + int((match[2] or "0").ljust(9, "0"))


def _tag_string(value: Any) -> str:
    """Jaeger's queries carry typed JSON values; a TraceQuery tag is the string form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_double(value)
    return str(value)


class JaegerCorpusConformance:
    """Mix into a ``Test*`` class providing ``store``; one test per corpus case."""

    corpus_dir: Path | None = None  # None: default_corpus_dir()

    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError("the backend's test class must provide a `store` fixture")

    def _directory(self) -> Path:
        return self.corpus_dir or default_corpus_dir()

    def _write_corpus(self, store: Any) -> Corpus:
        directory = self._directory()
        if not (directory / "queries.json").is_file():
            pytest.skip(f"Jaeger search corpus not found at {directory}")
        corpus = load_corpus(directory)
        for batch in corpus.traces.values():
            store.write(SpanBatch.concat([batch]))  # a copy: the cached corpus stays pristine
        return corpus

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "corpus_case" not in metafunc.fixturenames:
            return
        directory = self._directory()
        if not (directory / "queries.json").is_file():
            skip = pytest.mark.skip(reason=f"Jaeger search corpus not found at {directory}")
            metafunc.parametrize("corpus_case", [pytest.param(None, marks=skip)], ids=["absent"])
            return
        captions = read_captions(directory)
        metafunc.parametrize("corpus_case", range(len(captions)), ids=map(case_id, captions))

    def test_jaeger_search_case(self, store: Any, corpus_case: int) -> None:
        corpus = self._write_corpus(store)
        case = corpus.cases[corpus_case]
        found = store.find_traces(case.query)
        got = sorted(corpus.fixture_of(batch.trace_id[0]) for batch in found if len(batch))
        assert got == sorted(case.expected), f"{case.caption}: {case.query}"
        for batch in found:
            expected = corpus.traces[corpus.fixture_of(batch.trace_id[0])]
            assert set(batch.rows()) == set(expected.rows()), "a returned trace is not whole"

    def test_wildcard_looking_values_match_literally(self, store: Any) -> None:
        """The corpus's wildcard/regex fixtures, searched with Traceway's literal semantics."""
        corpus = self._write_corpus(store)
        window = corpus.cases[0].query  # every 2017-01-26 afternoon span is inside it
        for service, value, expected in [
                ("query23-service", "same*", ["tags_escaped_operator_trace_1"]),
                ("query24-service", "sameplacevalue.*", []),
                ("query24-service", "sameplacevalue1", ["tags_wildcard_regex_1"])]:
            query = TraceQuery(start_min_ns=window.start_min_ns, start_max_ns=window.start_max_ns,
                               service=service, tags={"sameplacetag1": value})
            found = store.find_traces(query)
            assert sorted(corpus.fixture_of(b.trace_id[0]) for b in found) == expected, value
