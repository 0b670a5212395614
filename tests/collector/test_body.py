import gzip

import pytest

from traceway.collector.body import BodyError, gunzip


def test_gunzip_roundtrip():
    assert gunzip(gzip.compress(b"hello" * 1000)) == b"hello" * 1000


def test_gunzip_stops_at_the_limit_without_inflating_everything():
    bomb = gzip.compress(b"\0" * (50 << 20))
    with pytest.raises(BodyError) as failure:
        gunzip(bomb, limit=1 << 20)
    assert failure.value.status == 413


def test_gunzip_rejects_garbage_and_truncation():
    for body in (b"not gzip at all", gzip.compress(b"x" * 10_000)[:-20]):
        with pytest.raises(BodyError) as failure:
            gunzip(body)
        assert failure.value.status == 400
