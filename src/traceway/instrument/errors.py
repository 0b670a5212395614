"""``@traced`` and ``mark_error``: one span per call, exceptions recorded and re-raised unchanged."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

F = TypeVar("F", bound=Callable[..., Any])

_TRACER_NAME = "traceway.instrument"


def mark_error(span: Span, error: BaseException | str) -> None:
    """Mark ``span`` failed: an ``exception`` event (for exceptions) and status ERROR with the message."""
    if isinstance(error, BaseException):
        span.record_exception(error)
        span.set_attribute("error.type", type(error).__qualname__)
        message = str(error) or type(error).__name__
    else:
        message = error
    span.set_status(Status(StatusCode.ERROR, message))


def fail_span(span: Span, exc: BaseException) -> None:
    """mark_error for real failures only."""
    # Cancellation, GeneratorExit and interpreter exits are control flow, not failures.
    if isinstance(exc, Exception):
        mark_error(span, exc)


class traced:
    """A span per call of the decorated function, or around a ``with`` block.

    Works on plain and async functions and on sync and async generators (the
    span covers the whole iteration and is current only while the generator
    body runs). Usable bare (``@traced``), with arguments
    (``@traced("name", kind=SpanKind.CLIENT, attributes={...})``) or as a
    context manager (``with traced("step") as span:`` / ``async with``).
    """

    @overload
    def __new__(cls, name: F) -> F: ...  # type: ignore[misc]
    @overload
    def __new__(cls, name: str | None = None, *, kind: SpanKind = ..., attributes: Mapping[str, Any] | None = ..., tracer: trace.Tracer | None = ...) -> traced: ...

    def __new__(cls, name: Any = None, **kwargs: Any) -> Any:
        if callable(name):
            return cls(**kwargs)(name)
        return super().__new__(cls)

    def __init__(
        self,
        name: str | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.attributes = dict(attributes or {})
        self._tracer = tracer
        self._stack: list[tuple[Span, object]] = []
        self._cached: tuple[object, trace.Tracer] | None = None

    def _start(self, name: str) -> Span:
        tracer = self._tracer
        if tracer is None:
            # get_tracer builds a new Tracer each time; reuse one per global provider
            provider = trace.get_tracer_provider()
            cached = self._cached
            if cached is None or cached[0] is not provider:
                cached = self._cached = (provider, provider.get_tracer(_TRACER_NAME))
            tracer = cached[1]
        return tracer.start_span(name, kind=self.kind, attributes=self.attributes)

    # -- context manager ----------------------------------------------------
    def __enter__(self) -> Span:
        span = self._start(self.name or "block")
        token = context_api.attach(trace.set_span_in_context(span))
        self._stack.append((span, token))
        return span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        span, token = self._stack.pop()
        context_api.detach(token)  # type: ignore[arg-type]
        if exc is not None:
            fail_span(span, exc)
        span.end()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator ----------------------------------------------------------
    def __call__(self, fn: F) -> F:
        name = self.name or fn.__qualname__
        start = functools.partial(self._start, name)
        if inspect.isasyncgenfunction(fn):
            wrapper: Any = _wrap_async_gen(fn, start)
        elif inspect.isgeneratorfunction(fn):
            wrapper = _wrap_gen(fn, start)
        elif inspect.iscoroutinefunction(fn):

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                span = start()
                with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                    try:
                        return await fn(*args, **kwargs)
                    except BaseException as exc:
                        fail_span(span, exc)
                        raise
                    finally:
                        span.end()

        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                span = start()
                with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                    try:
                        return fn(*args, **kwargs)
                    except BaseException as exc:
                        fail_span(span, exc)
                        raise
                    finally:
                        span.end()

        return cast(F, functools.wraps(fn)(wrapper))


def _wrap_gen(fn: Callable[..., Any], start: Callable[[], Span]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start()
        ctx = trace.set_span_in_context(span)
        gen = fn(*args, **kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = context_api.attach(ctx)
                try:
                    item = gen.throw(to_throw) if to_throw is not None else gen.send(to_send)
                except StopIteration as stop:
                    return stop.value
                finally:
                    context_api.detach(token)
                to_send, to_throw = None, None
                try:
                    to_send = yield item
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:
                    to_throw = exc
        except BaseException as exc:
            fail_span(span, exc)
            raise
        finally:
            span.end()

    return wrapper


def _wrap_async_gen(fn: Callable[..., Any], start: Callable[[], Span]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start()
        ctx = trace.set_span_in_context(span)
        gen = fn(*args, **kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = context_api.attach(ctx)
                try:
                    item = await (gen.athrow(to_throw) if to_throw is not None else gen.asend(to_send))
                except StopAsyncIteration:
                    return
                finally:
                    context_api.detach(token)
                to_send, to_throw = None, None
                try:
                    to_send = yield item
                except GeneratorExit:
                    await gen.aclose()
                    raise
                except BaseException as exc:
                    to_throw = exc
        except BaseException as exc:
            fail_span(span, exc)
            raise
        finally:
            span.end()

    return wrapper
