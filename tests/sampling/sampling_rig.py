"""A TailSampler over a MemoryStore with a hand-driven clock (no decider thread)."""

from __future__ import annotations

from pathlib import Path

from traceway.pipeline.batcher import WriteQueue
from traceway.pipeline.sampling import TailSampler
from traceway.pipeline.sampling.settings import parse_tail
from traceway.pipeline.spool import Spool
from traceway.storage.memory import MemoryStore
from traceway.telemetry import Telemetry

STANDARD_POLICIES = [
    {"name": "errors", "type": "status_code", "status_codes": ["ERROR"]},
    {"name": "slow", "type": "latency", "threshold": "500ms"},
    {"name": "baseline", "type": "probabilistic", "percent": 1.0},
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A TailSampler over a MemoryStore with a hand-driven clock and no decider thread."""

    def __init__(self, directory: Path, tail: dict) -> None:
        self.directory = directory
        self.store = MemoryStore()
        self.telemetry = Telemetry()
        self.queue = WriteQueue(self.store, self.telemetry)
        self.clock = Clock()
        self.config = parse_tail(tail)
        self.sampler = TailSampler(self.queue, Spool(directory, segment_age_s=3600),
                                   self.config, self.telemetry, clock=self.clock)
        self.sampler.replay()
        self.sampler.start(decider=False)

    def send(self, batch, request: bytes | None = None) -> None:
        self.sampler.submit(batch, request).result(timeout=30)

    def decide_all_waiting(self) -> int:
        self.clock.now += self.config.decision_wait_ns / 1e9 + 1
        return self.sampler.decide_expired()

    def flush(self) -> None:
        """Wait until every kept trace is in the store."""
        self.sampler.close()
        self.queue.close()

    def metric(self, name: str, **labels: str) -> float:
        return self.telemetry.registry.get_sample_value(name, labels) or 0.0
