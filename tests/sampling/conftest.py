from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sampling_rig import STANDARD_POLICIES, Rig


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(tail: dict | None = None) -> Rig:
        r = Rig(tmp_path / "spool", tail or {"decision_wait": "10s",
                                              "policy": STANDARD_POLICIES})
        made.append(r)
        return r

    yield make
    for r in made:
        r.sampler.close()
        r.queue.close()
