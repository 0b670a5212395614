"""Every end-to-end test here runs twice: servers decoding OTLP in C, then in pure Python."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", params=["c-decoder", "python-decoder"], autouse=True)
def decoder_path(request: pytest.FixtureRequest) -> Iterator[str]:
    patch = pytest.MonkeyPatch()
    if request.param == "python-decoder":
        patch.setenv("TRACEWAY_NATIVE_DECODER", "0")  # read by the server processes
    yield request.param
    patch.undo()
