"""Reading request bodies safely: size limits before and after gzip."""

from __future__ import annotations

import re
import zlib

from starlette.requests import Request

from traceway.collector.inflight import Reservation

MAX_BODY_BYTES = 64 << 20
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_DECIMAL = re.compile(r"[0-9]{1,20}")


class BodyError(Exception):
    """The body cannot be accepted; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, reservation: Reservation,
                    limit: int = MAX_BODY_BYTES) -> bytes:
    """The decompressed body; BodyError(413) past ``limit`` bytes, before or
    after decompression, without ever holding more than ``limit`` in memory.
    The bytes held are taken from ``reservation`` (InFlightFullError past the
    server-wide cap, before the rest of the body is read)."""
    declared = request.headers.get("content-length", "")
    if _DECIMAL.fullmatch(declared):
        if int(declared) > limit:
            raise BodyError(413, f"body of {declared} bytes exceeds the limit of {limit} bytes")
        reservation.take(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"body exceeds the limit of {limit} bytes")
        if size > reservation.size:
            reservation.take(size - reservation.size)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        inflated = gunzip(body, limit)
    elif encoding == "deflate":
        inflated = _inflate(body, limit, gzip_members=False)
    else:
        raise BodyError(415, f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    reservation.take(len(inflated))
    return inflated


def gunzip(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """Every member of a gzip stream (``gzip(A) + gzip(B)`` is ``A + B``, as
    RFC 1952 and the gzip tool say); anything after the last member is a 400."""
    return _inflate(body, limit, gzip_members=True)


def _inflate(body: bytes, limit: int, *, gzip_members: bool) -> bytes:
    out: list[bytes] = []
    size = 0
    data = body
    try:
        while True:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip_members else zlib.MAX_WBITS)
            while not inflater.eof:
                # Bounded steps: a bomb is refused after ``limit`` bytes, not inflated whole.
                piece = inflater.decompress(data, _CHUNK)
                progressed = piece or len(inflater.unconsumed_tail) < len(data)
                data = inflater.unconsumed_tail
                size += len(piece)
                if size > limit:
                    raise BodyError(413, f"decompressed body exceeds the limit of {limit} bytes")
                out.append(piece)
                if not progressed:
                    raise BodyError(400, "compressed body is truncated")
            data = inflater.unused_data
            if not data:
                return b"".join(out)
            if not (gzip_members and data.startswith(_GZIP_MAGIC)):
                raise BodyError(400, f"{len(data)} bytes of junk after the compressed body")
    except zlib.error as exc:
        raise BodyError(400, f"body is not valid compressed data: {exc}") from None
