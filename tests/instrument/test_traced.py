from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from traceway.instrument import mark_error, traced


def _by_name(memory, name):
    return [s for s in memory.get_finished_spans() if s.name == name]


def _assert_error(span, exc_type, message):
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == message
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"].endswith(exc_type.__name__)
    assert event.attributes["exception.message"] == message


def test_sync_function_success(memory):
    @traced
    def add(a, b):
        assert trace.get_current_span().is_recording()
        return a + b

    assert add(2, 3) == 5
    (span,) = memory.get_finished_spans()
    assert span.name.endswith("add")
    assert span.status.status_code is StatusCode.UNSET


def test_sync_function_error_reraised_unchanged(memory):
    err = ValueError("bad input")

    @traced("parse", attributes={"component": "parser"})
    def parse():
        raise err

    with pytest.raises(ValueError) as info:
        parse()
    assert info.value is err
    (span,) = _by_name(memory, "parse")
    assert span.attributes["component"] == "parser"
    _assert_error(span, ValueError, "bad input")


async def test_async_function(memory):
    @traced
    async def ok():
        return 7

    @traced("fails")
    async def fails():
        raise KeyError("missing")

    assert await ok() == 7
    with pytest.raises(KeyError):
        await fails()
    assert _by_name(memory, "fails")[0].status.status_code is StatusCode.ERROR
    assert next(s for s in memory.get_finished_spans() if s.name.endswith("ok")).status.status_code is StatusCode.UNSET


def test_generator_span_covers_iteration_and_children(memory):
    tracer = trace.get_tracer("t")

    @traced("rows")
    def rows(n):
        for i in range(n):
            with tracer.start_as_current_span("row"):
                pass
            yield i

    assert list(rows(3)) == [0, 1, 2]
    (gen_span,) = _by_name(memory, "rows")
    children = _by_name(memory, "row")
    assert len(children) == 3
    assert all(c.parent.span_id == gen_span.context.span_id for c in children)
    # the generator's span is not current in the consumer between items
    assert not trace.get_current_span().is_recording()


def test_generator_error_and_early_close(memory):
    @traced("broken")
    def broken():
        yield 1
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError, match="stream broke"):
        list(broken())
    _assert_error(_by_name(memory, "broken")[0], RuntimeError, "stream broke")

    @traced("endless")
    def endless():
        while True:
            yield 1

    g = endless()
    next(g)
    g.close()
    (span,) = _by_name(memory, "endless")
    assert span.status.status_code is StatusCode.UNSET


def test_generator_send_and_return_value(memory):
    @traced("echo")
    def echo():
        got = yield "ready"
        yield got * 2
        return "done"

    g = echo()
    assert next(g) == "ready"
    assert g.send(21) == 42
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    assert len(_by_name(memory, "echo")) == 1


async def test_async_generator(memory):
    @traced("agen")
    async def agen(fail):
        yield 1
        yield 2
        if fail:
            raise ConnectionError("peer gone")

    assert [x async for x in agen(False)] == [1, 2]
    with pytest.raises(ConnectionError):
        async for _ in agen(True):
            pass
    ok, bad = _by_name(memory, "agen")
    assert ok.status.status_code is StatusCode.UNSET
    _assert_error(bad, ConnectionError, "peer gone")


def test_context_manager(memory):
    with traced("step") as span:
        assert trace.get_current_span() is span
    with pytest.raises(ZeroDivisionError), traced("divide"):
        _ = 1 / 0
    assert _by_name(memory, "step")[0].status.status_code is StatusCode.UNSET
    assert _by_name(memory, "divide")[0].status.status_code is StatusCode.ERROR


async def test_async_context_manager(memory):
    async with traced("astep"):
        pass
    assert len(_by_name(memory, "astep")) == 1


def test_mark_error(memory):
    tracer = trace.get_tracer("t")
    with tracer.start_as_current_span("a") as a:
        mark_error(a, "payment declined")
    with tracer.start_as_current_span("b") as b:
        mark_error(b, TimeoutError("upstream slow"))
    (a,) = _by_name(memory, "a")
    assert a.status.status_code is StatusCode.ERROR and a.status.description == "payment declined"
    (b,) = _by_name(memory, "b")
    _assert_error(b, TimeoutError, "upstream slow")
    assert b.attributes["error.type"] == "TimeoutError"
