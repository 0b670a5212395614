"""The demo's customers: requests to the frontend at a steady rate (untraced, like a browser)."""

from __future__ import annotations

import collections
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from traceway.demo.shop import SKUS
from traceway.demo.web import raw_call


def one_request(frontend: str) -> str:
    """One customer action; returns the status as text (or the error type)."""
    roll = random.random()
    try:
        if roll < 0.7:
            order: dict[str, Any] = {"items": [{"sku": random.choice(SKUS), "qty": random.randint(1, 3)}]}
            if random.random() < 0.1:
                order["coupon"] = random.choice(["WELCOME10", "BLACKFRIDAY"])
            status, _ = raw_call("POST", f"{frontend}/checkout", order, timeout_s=10)
        elif roll < 0.9:
            status, _ = raw_call("GET", f"{frontend}/product?sku={random.choice(SKUS)}", None, timeout_s=10)
        else:
            status, _ = raw_call("GET", f"{frontend}/recommendations", None, timeout_s=10)
        return str(status)
    except OSError as exc:
        return type(exc).__name__


def drive(frontend: str, rate: float, stop: threading.Event, duration_s: float | None, report_every_s: float = 10.0) -> collections.Counter[str]:
    """Send ``rate`` requests per second until ``stop`` is set or ``duration_s`` has passed."""
    outcomes: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def record(result: str) -> None:
        with lock:
            outcomes[result] += 1

    start = time.monotonic()
    deadline = start + duration_s if duration_s is not None else None
    next_report = start + report_every_s
    interval = 1.0 / rate
    next_at = start
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="customer") as pool:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            pool.submit(lambda: record(one_request(frontend)))
            next_at += interval
            now = time.monotonic()
            if now >= next_report:
                with lock:
                    summary = ", ".join(f"{k}×{v}" for k, v in sorted(outcomes.items()))
                print(f"traceway demo: {sum(outcomes.values())} requests so far ({summary})", flush=True)
                next_report = now + report_every_s
            stop.wait(max(0.0, next_at - now))
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes
