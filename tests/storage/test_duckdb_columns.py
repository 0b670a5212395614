"""The DuckDB store's column encodings, built without a Python loop per span."""

import random

import numpy as np
import pyarrow as pa
import pytest

from traceway.storage.duckdb import schema
from traceway.storage.duckdb.schema import latin1_text, u64_pairs, u64s

needs_c = pytest.mark.skipif(schema._latin1 is None, reason="_latin1.c not compiled")


def _python_text(values: list[bytes]) -> pa.Array:
    return pa.array([value.decode("latin-1") for value in values], pa.string())


@needs_c
def test_compiled_latin1_text_equals_pythons_on_random_bytes():
    rng = random.Random(14)
    for _ in range(200):
        values = [rng.randbytes(rng.choice([0, 1, 7, 8, 9, 300])) for _ in range(rng.randint(0, 40))]
        assert latin1_text(values).equals(_python_text(values))


@needs_c
def test_latin1_text_of_every_byte_and_of_nothing():
    every = bytes(range(256))
    assert latin1_text([every, b"", every[::-1]]).to_pylist() == [
        every.decode("latin-1"), "", every[::-1].decode("latin-1")]
    assert latin1_text([]).to_pylist() == []


@needs_c
def test_latin1_text_refuses_what_is_not_bytes():
    with pytest.raises(TypeError, match="value 1 is str"):
        latin1_text([b"ok", "not bytes"])  # type: ignore[list-item]


def test_ids_of_the_wrong_length_are_refused_not_shifted():
    """A wrong-length id must fail the write (and be quarantined), never move
    every later span's id by a few bytes."""
    with pytest.raises(ValueError):
        u64s([b"\x01" * 16, b""])  # 16 bytes in all, as two 8-byte ids would be
    with pytest.raises(ValueError):
        u64_pairs([b"\x01" * 8, b"\x02" * 24])


def test_empty_parent_ids_are_zero():
    assert u64s([b"", b"\x00" * 7 + b"\x05", b""]).tolist() == [0, 5, 0]
    hi, lo = u64_pairs([b"\x00" * 7 + b"\x01" + b"\x00" * 7 + b"\x02"])
    assert (hi.tolist(), lo.tolist()) == ([1], [2])
    assert u64s([]).dtype == np.uint64


def test_without_the_compiled_helper_python_builds_the_same_text(monkeypatch):
    values = [bytes(range(256)), b"", b"plain ascii"]
    expected = latin1_text(values)
    monkeypatch.setattr(schema, "_latin1", None)
    assert latin1_text(values).equals(expected)
    assert latin1_text(values).equals(_python_text(values))
